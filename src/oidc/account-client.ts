import type { ClientMetadata } from 'oidc-provider';

import { ACCOUNT_CLIENT_ID } from '../config/reserved-ids.js';

export { ACCOUNT_CLIENT_ID };

/** Where the account page's sign-in comes back to. */
export const accountCallback = (issuer: string) => `${issuer}/account/callback`;

/**
 * The account page's client: public (no secret), code flow with PKCE, `openid` only. The sign-in
 * it starts sets the provider's session cookie, which is all the page needs; its codes are never
 * redeemed and expire.
 */
export function accountClient(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your Gatehouse account',
    redirect_uris: [accountCallback(issuer)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid',
  };
}
