import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { requiresMfa } from './client-rights.js';

export const MFA_REQUIRED_REASON = 'mfa_required';

/**
 * A check of the login prompt: a session signed in without a second factor (no `mfa` in its
 * RFC 8176 `amr`) must sign in again when `mfa.policy` is "required" or the client has
 * `require_mfa`. With `prompt=none` oidc-provider answers `login_required`: never a silent
 * downgrade. Test mode signs in without real factors and is exempt (its test API sets `amr`).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthError
 */
export function mfaRequiredCheck(config: Config): interactionPolicy.Check {
  return new interactionPolicy.Check(
    MFA_REQUIRED_REASON,
    'this sign-in needs a second factor',
    'login_required',
    (ctx: KoaContextWithOIDC) => {
      const { session, client } = ctx.oidc;
      if (config.mode === 'test' || !session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (!requiresMfa(client, config.mfa.policy)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return (session.amr ?? []).includes('mfa')
        ? interactionPolicy.Check.NO_NEED_TO_PROMPT
        : interactionPolicy.Check.REQUEST_PROMPT;
    },
  );
}
