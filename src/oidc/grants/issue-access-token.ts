import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { setLineage, type ExchangeLineage } from './exchange-lineage.js';

/** What an issued token may be at most, when it derives from another token (token exchange). */
export interface TokenBounds {
  /** The subject token's scopes: requested scopes must be among them; the default is all of them the client may have. */
  scopes?: ReadonlySet<string>;
  /** Epoch seconds: the token and its grant end no later. */
  expiresAt?: number;
  /** The subject token's audience, kept so the new token reaches no further. */
  audience?: string | string[];
  /** The subject access token, so that ending it (or its grant) ends the new token. */
  lineage?: ExchangeLineage;
}

/**
 * Issues an access token to the authenticated client for an account, under a new grant of that
 * client holding the scopes: those requested (each supported and allowed for the client, and
 * within `bounds.scopes` when given) or by default `openid`, or all of `bounds.scopes` the client
 * may have. Shared by the jwt-bearer and token-exchange grants; the token is ordinary: /userinfo,
 * /introspect, /revoke.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1
 */
export async function issueAccessToken(
  ctx: KoaContextWithOIDC,
  accountId: string,
  gty: string,
  supportedScopes: readonly string[],
  bounds: TokenBounds = {},
) {
  const { client } = ctx.oidc;
  if (!client) throw new errors.InvalidClient();
  const allowed = client.scope ? new Set(client.scope.split(' ')) : undefined;
  const permitted = (scope: string) =>
    supportedScopes.includes(scope) &&
    (!allowed || allowed.has(scope)) &&
    (!bounds.scopes || bounds.scopes.has(scope));

  const param = ctx.oidc.params?.scope;
  let scopes: string[];
  if (typeof param === 'string' && param) {
    scopes = [...new Set(param.split(' ').filter(Boolean))];
    const refused = scopes.find((scope) => !permitted(scope));
    if (refused !== undefined) {
      throw new errors.InvalidScope(
        bounds.scopes && !bounds.scopes.has(refused)
          ? 'requested scope exceeds the subject token’s scope'
          : 'requested scope is not allowed',
        refused,
      );
    }
  } else if (bounds.scopes) {
    scopes = [...bounds.scopes].filter(permitted);
    if (scopes.length === 0) {
      throw new errors.InvalidScope(
        'no scope of the subject token is allowed for this client',
        [...bounds.scopes].join(' '),
      );
    }
  } else {
    scopes = ['openid'].filter(permitted);
    if (scopes.length === 0) throw new errors.InvalidScope('requested scope is not allowed', 'openid');
  }

  const now = Math.floor(Date.now() / 1000);
  const remaining = bounds.expiresAt === undefined ? undefined : bounds.expiresAt - now;
  if (remaining !== undefined && remaining <= 0) throw new errors.InvalidGrant('subject_token is expired');

  const { Grant, AccessToken } = ctx.oidc.provider;
  const token = new AccessToken({
    accountId,
    client,
    grantId: '',
    gty,
    scope: scopes.join(' '),
    ...(bounds.audience !== undefined ? { aud: bounds.audience } : {}),
  });
  // min(the configured lifetime, what is left of the subject token)
  const lifetime = remaining === undefined ? token.expiration : Math.min(token.expiration, remaining);
  (token as { expiresIn?: number }).expiresIn = lifetime;

  const grant = new Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scopes.join(' '));
  if (bounds.lineage) setLineage(grant, bounds.lineage);
  // The grant exists for this one token (no refresh token is issued): it need not outlive it.
  // The extra second covers the token being saved a second boundary after its grant.
  (grant as { expiresIn?: number }).expiresIn = lifetime + 1;
  token.grantId = await grant.save();
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  return {
    access_token: value,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope,
  };
}
