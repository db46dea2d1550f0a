import type Provider from 'oidc-provider';
import { AppError } from '../http/app-error.js';
import type { Account } from '../accounts/account-store.js';

export interface MintRequest {
  account: Account;
  clientId: string;
  scope: string;
  nonce?: string;
  supportedScopes: readonly string[];
}

/**
 * Mints tokens for a user and client without a browser, through oidc-provider's own models, so
 * they are ordinary tokens: an access token (works at /userinfo and /introspect), an ID token
 * when `openid` is in scope, a refresh token when `offline_access` is and the client may refresh.
 */
export async function mintTokens(provider: Provider, request: MintRequest) {
  const client = await provider.Client.find(request.clientId);
  if (!client) throw new AppError(400, 'invalid_client', `unknown client "${request.clientId}"`);
  const scopes = [...new Set(request.scope.split(' ').filter(Boolean))];
  const allowed = client.scope ? new Set(client.scope.split(' ')) : undefined;
  const refused = scopes.find((s) => !request.supportedScopes.includes(s) || (allowed && !allowed.has(s)));
  if (refused !== undefined)
    throw new AppError(400, 'invalid_scope', `scope "${refused}" is not allowed for this client`);
  const scope = scopes.join(' ');
  const accountId = request.account.claims.sub;
  const now = Math.floor(Date.now() / 1000);

  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const gty = 'test_api';

  const at = new provider.AccessToken({ accountId, client, grantId, gty, scope });
  const accessToken = await at.save();
  const out: Record<string, unknown> = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: at.expiration,
    scope,
  };

  if (scopes.includes('offline_access') && client.grantTypeAllowed('refresh_token')) {
    const rt = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty,
      scope,
      authTime: now,
      iiat: now,
      rotations: 0,
    });
    out.refresh_token = await rt.save();
  }
  if (scopes.includes('openid')) {
    const idToken = new provider.IdToken(
      { ...request.account.claims, auth_time: now, amr: ['test'] },
      { client },
    );
    (idToken as unknown as { scope: string }).scope = scope; // read by IdToken#payload to mask claims by scope
    if (request.nonce) idToken.set('nonce', request.nonce);
    idToken.set('at_hash', accessToken);
    out.id_token = await idToken.issue({ use: 'idtoken' });
  }
  return out;
}
