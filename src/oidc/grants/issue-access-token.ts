import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * Issues an access token to the authenticated client for an account, under a new grant holding
 * the requested scopes (each must be supported and allowed for the client). Shared by the
 * jwt-bearer and token-exchange grants; the token is ordinary: /userinfo, /introspect, /revoke.
 */
export async function issueAccessToken(
  ctx: KoaContextWithOIDC,
  accountId: string,
  gty: string,
  supportedScopes: readonly string[],
) {
  const { client } = ctx.oidc;
  if (!client) throw new errors.InvalidClient();
  const requested = [
    ...new Set(
      String(ctx.oidc.params?.scope ?? 'openid')
        .split(' ')
        .filter(Boolean),
    ),
  ];
  const allowed = client.scope ? new Set(client.scope.split(' ')) : undefined;
  for (const scope of requested) {
    if (!supportedScopes.includes(scope) || (allowed && !allowed.has(scope))) {
      throw new errors.InvalidScope('requested scope is not allowed', scope);
    }
  }
  const { Grant, AccessToken } = ctx.oidc.provider;
  const grant = new Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(requested.join(' '));
  const grantId = await grant.save();
  const token = new AccessToken({ accountId, client, grantId, gty, scope: requested.join(' ') });
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  return {
    access_token: value,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope,
  };
}
