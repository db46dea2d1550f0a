import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { AppError } from '../http/app-error.js';
import { claimsWithinScopes, type ClaimsByScope } from '../oidc/claims-parameter.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Grants what the consent prompt found missing (scopes, claims, resource scopes) and returns the
 * interaction result that finishes the consent step. Individually requested claims (the `claims`
 * parameter) are granted only within the scopes granted: the page asks about scopes, so that is
 * all the user agreed to (the consent check asks about no others, see oidc/claims-parameter.ts).
 */
export async function grantConsent(
  provider: Provider,
  interaction: Interaction,
  claimsByScope: ClaimsByScope,
): Promise<InteractionResults> {
  const { prompt, params, session, grantId } = interaction;
  if (!session?.accountId)
    throw new AppError(400, 'invalid_request', 'Sign in first.', 'consent without a session');
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: String(params.client_id) });
  if (!grant)
    throw new AppError(400, 'invalid_request', 'This request has expired. Start again.', 'grant not found');
  const missing = prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) {
    const scopes = grant.getOIDCScope().split(' ');
    grant.addOIDCClaims(claimsWithinScopes(missing.missingOIDCClaims, scopes, claimsByScope));
  }
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const savedGrantId = await grant.save();
  return { consent: grantId ? {} : { grantId: savedGrantId } };
}

/**
 * Whether the consent step asks only for individually requested claims that scopes the user
 * already granted this client release: nothing new would be shown, so no page is needed.
 */
export function asksOnlyForConsentedClaims(interaction: Interaction): boolean {
  const { prompt } = interaction;
  return (
    prompt.name === 'consent' &&
    prompt.reasons.length > 0 &&
    prompt.reasons.every((r) => r === 'op_claims_missing')
  );
}
