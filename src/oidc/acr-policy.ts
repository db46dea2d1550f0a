import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { acrForSession, demandedAcr, planStepUp } from '../mfa/acr.js';
import type { FactorAvailability } from '../mfa/factor-availability.js';
import { setRequestAcr } from './internals.js';

export const ACR_STEP_UP_REASON = 'acr_step_up';

/** oidc-provider's own essential-acr checks, replaced by `acrStepUpCheck`. */
const PROVIDER_ACR_CHECKS = ['essential_acrs', 'essential_acr'];

/**
 * The login prompt's check for `acr_values` and an essential `acr` claim (src/mfa/acr.ts).
 * A session that does not meet what the request asks for is sent to sign in when the user holds
 * a factor that would meet it (the sign-in then asks only for that factor, see
 * src/interactions/step-up.ts); with `prompt=none` oidc-provider answers `login_required`, never a
 * silent downgrade. A voluntary request the user cannot meet goes on with what the session has
 * (OIDC Core §3.1.2.1). An essential one that cannot be met is `access_denied` (to the
 * redirect_uri), also right after a sign-in that did not reach it: no token with a lower `acr`.
 *
 * Replaces oidc-provider's `essential_acrs`/`essential_acr` checks: those compare the session's
 * stored `acr` string (so they would loop back to the login page forever instead of refusing),
 * and `acr_values` overwrites an essential claim in oidc-provider's context.
 * Test mode is exempt, as for `require_mfa`: its sign-ins have no real factors.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IndividualClaimsRequests
 */
export function addAcrStepUpCheck(
  policy: ReturnType<typeof interactionPolicy.base>,
  config: Config,
  availability: FactorAvailability,
): void {
  const login = policy.get('login');
  if (!login) throw new Error('the interaction policy has no login prompt');
  for (const reason of PROVIDER_ACR_CHECKS) login.checks.remove(reason);
  login.checks.add(
    new interactionPolicy.Check(
      ACR_STEP_UP_REASON,
      'the requested authentication context needs another factor',
      'login_required',
      async (ctx: KoaContextWithOIDC) => {
        const { session, params } = ctx.oidc;
        if (config.mode === 'test' || !session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const demand = demandedAcr(params as Record<string, unknown>, config.acrValues);
        const justSignedIn = !!ctx.oidc.result?.login;
        // After a sign-in the user could only have done more if they held more: no second ask.
        const plan = planStepUp(
          session.amr,
          demand,
          justSignedIn ? { totp: false, passkey: false } : await availability.held(session.accountId),
        );
        if (plan === 'none') return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        if (plan === 'deny' || (justSignedIn && demand?.essential)) {
          throw new errors.AccessDenied('the requested authentication context could not be met');
        }
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );
}

/**
 * Gives each authorization its own `acr`: the first requested value the session meets, else the
 * highest level it meets (src/mfa/acr.ts `acrForSession`), rather than the one stored when the
 * session signed in (which answered another request). Set when oidc-provider accepts the
 * authorization, before the code, ID token or device grant is built from it. Test mode keeps the
 * sign-in's own `acr` (the test API's `next-login-auth` sets it).
 */
export function giveEachAuthorizationItsAcr(provider: Provider, config: Config): void {
  if (config.mode === 'test') return;
  provider.on('authorization.accepted', (ctx: KoaContextWithOIDC) => {
    const { session, params } = ctx.oidc;
    const requested = demandedAcr(params as Record<string, unknown>, config.acrValues)?.values ?? [];
    setRequestAcr(ctx, acrForSession(session?.amr, requested, config.acrValues));
  });
}
