import type Provider from 'oidc-provider';

/** An access token as oidc-provider's `AccessToken.find` returns it. */
export type FoundAccessToken = InstanceType<Provider['AccessToken']>;

/**
 * Revokes an access token and everything issued under its grant: the grant itself and every
 * access token, refresh token, authorization code, device code and CIBA request sharing its
 * `grantId` (the same sweep oidc-provider's revocation endpoint makes for the models the client
 * uses, helpers/revoke.js, here for all of them and always including the grant, since the caller
 * ends the whole sign-in). Only the presented token's own grant is touched.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export async function revokeTokenGrant(provider: Provider, token: FoundAccessToken): Promise<void> {
  await token.destroy();
  const { grantId } = token;
  if (!grantId) return;
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
    provider.DeviceCode.revokeByGrantId(grantId),
    provider.BackchannelAuthenticationRequest.revokeByGrantId(grantId),
  ]);
  const grant = await provider.Grant.find(grantId);
  await grant?.destroy();
}
