import type Provider from 'oidc-provider';
import { isAwsClient } from '../oidc/aws-clients.js';
import { revokeTokenGrant } from '../oidc/revoke-token-grant.js';
import { PortalError } from './portal-errors.js';

/** Longer than any access token Gatehouse issues: not worth a store lookup. */
const MAX_TOKEN_LENGTH = 4096;

/**
 * The one answer for every token Logout will not act on (unknown, expired, revoked, bound to a
 * key, or issued to a client that did not register through RegisterClient), so the operation
 * tells a caller nothing about a token beyond what AWS's does: it is or is not a live portal session.
 */
const NOT_A_SESSION = 'Session token not found or invalid';

/**
 * The access portal's Logout (`POST /logout`, header `x-amz-sso_bearer_token`), as `aws sso logout`
 * calls it: ends the sign-in the presented access token belongs to by revoking the token, its
 * grant and every token of that grant (refresh tokens included). Only access tokens of clients
 * registered through RegisterClient are accepted, as AWS's portal accepts only tokens its
 * `sso-oidc` issued; the tokens of Gatehouse's configured clients are revoked only by those
 * clients, at `/revoke` (RFC 7009). A sender-constrained (DPoP) token is not a bearer token and
 * is refused too.
 *
 * @see https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_Logout.html
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export async function logoutPortalSession(
  provider: Provider,
  accessToken: string,
): Promise<{ clientId: string; grantId: string | undefined }> {
  if (!accessToken) {
    throw new PortalError('InvalidRequestException', 'the x-amz-sso_bearer_token header is required');
  }
  if (accessToken.length > MAX_TOKEN_LENGTH) throw new PortalError('UnauthorizedException', NOT_A_SESSION);
  const token = await provider.AccessToken.find(accessToken);
  if (!token || token.isSenderConstrained()) throw new PortalError('UnauthorizedException', NOT_A_SESSION);
  const clientId = String(token.clientId);
  if (!isAwsClient(await provider.Client.find(clientId))) {
    throw new PortalError('UnauthorizedException', NOT_A_SESSION);
  }
  await revokeTokenGrant(provider, token);
  return { clientId, grantId: token.grantId };
}
