import type { Next } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isAwsApiRequest } from './aws-api-requests.js';
import { REDEEMED_RETRY_DETAIL } from './device-code-retry.js';

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** What went wrong, per grant type, by oidc-provider's (and our store's) `error_detail`. */
const DESCRIPTIONS: Record<string, Record<string, string>> = {
  [DEVICE_CODE]: {
    'device code not found': 'unknown device code: not issued to this client, or revoked',
    // Said exactly as for an unknown code: another client's code is none of this client's business.
    'client mismatch': 'unknown device code: not issued to this client, or revoked',
    'device code already consumed':
      'device code already redeemed: a device code is single-use, so the tokens issued for it have been revoked',
    'grant already used':
      'device code already redeemed: a device code is single-use, so the tokens issued for it have been revoked',
    'grant request is invalid': 'device code revoked',
    [REDEEMED_RETRY_DETAIL]:
      'device code already redeemed moments ago: a retry this soon by the same client does not revoke what was issued for it',
    'grant not found': 'the authorization for this device code was revoked or has expired',
    'grant is expired': 'the authorization for this device code was revoked or has expired',
  },
  refresh_token: {
    'refresh token not found': 'unknown refresh token: not issued to this client, revoked, or expired',
    'client mismatch': 'unknown refresh token: not issued to this client, revoked, or expired',
    'refresh token is expired': 'refresh token expired: sign in again',
    'refresh token already used':
      'refresh token already used: it was rotated (each refresh returns a new one), so its tokens have been revoked; sign in again',
    'grant request is invalid': 'refresh token revoked: sign in again',
    'grant not found': 'the authorization for this refresh token was revoked or has expired: sign in again',
    'grant is expired': 'the authorization for this refresh token was revoked or has expired: sign in again',
  },
  authorization_code: {
    'authorization code not found': 'unknown authorization code: not issued to this client, or revoked',
    'client mismatch': 'unknown authorization code: not issued to this client, or revoked',
    'authorization code is expired': 'authorization code expired',
    'authorization code already consumed':
      'authorization code already redeemed: a code is single-use, so the tokens issued for it have been revoked',
    'grant already used':
      'authorization code already redeemed: a code is single-use, so the tokens issued for it have been revoked',
    'authorization code redirect_uri mismatch':
      'redirectUri does not match the one of the authorization request',
    'code_verifier must be provided': 'PKCE: codeVerifier is required for this code',
    'code_verifier does not match code_challenge':
      'PKCE verification failed: codeVerifier does not match the code challenge',
    'grant not found': 'the authorization for this code was revoked or has expired',
    'grant is expired': 'the authorization for this code was revoked or has expired',
  },
};

type Detailed = Error & { error?: string; error_detail?: unknown };

/**
 * Says which case an `invalid_grant` is, for the AWS API's InvalidGrantException: oidc-provider
 * sends every one as "grant request is invalid" and keeps the case in the error's `error_detail`,
 * which is only logged. For requests from the AWS API (aws-api-requests.ts), and only once the
 * client has authenticated with a secret (a grant handler runs after client authentication; a
 * public client proves nothing, so it keeps the plain answer), the `error_description` names the
 * case from a fixed table: never the detail itself, and another client's code reads as unknown.
 * The standard /token keeps oidc-provider's answer.
 *
 * Returns the provider middleware; the details come from the `grant.error` event.
 */
export function describeGrantErrorsForAws(provider: Provider) {
  const details = new WeakMap<object, string>();
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Detailed) => {
    if (err.error === 'invalid_grant' && isAwsApiRequest()) {
      const cause = (err as { cause?: { message?: unknown } }).cause;
      const detail = err.error_detail ?? cause?.message;
      if (typeof detail === 'string') details.set(ctx, detail);
    }
  });
  return async function describeGrantErrors(ctx: KoaContextWithOIDC, next: Next) {
    await next();
    if (ctx.oidc?.route !== 'token' || !isAwsApiRequest()) return;
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (body?.error !== 'invalid_grant') return;
    const client = ctx.oidc.client;
    if (!client || client.clientAuthMethod === 'none') return;
    const detail = details.get(ctx);
    const grantType = ctx.oidc.params?.grant_type;
    const description =
      detail && typeof grantType === 'string' ? DESCRIPTIONS[grantType]?.[detail] : undefined;
    if (description) body.error_description = description;
  };
}
