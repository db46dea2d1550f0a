import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AssertionVerifier } from './trusted-assertions.js';
import { issueAccessToken } from './issue-access-token.js';
import { isAwsClient } from '../aws-clients.js';

export const grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const parameters = ['assertion', 'scope'];

/**
 * The JWT bearer grant: a JWT from a trusted issuer, naming a known account, exchanged for a
 * Gatehouse access token. The assertion must carry `jti`, `iat` and `exp`, live at most
 * `assertions.maxLifetimeSeconds`, and is accepted once (see trusted-assertions.ts).
 * Clients registered anonymously through the AWS API never get this grant.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export function createJwtBearerHandler(deps: { verifier: AssertionVerifier; scopes: readonly string[] }) {
  return async function jwtBearerHandler(ctx: KoaContextWithOIDC) {
    if (isAwsClient(ctx.oidc.client)) {
      throw new errors.UnauthorizedClient('requested grant type is not allowed for this client');
    }
    const assertion = ctx.oidc.params?.assertion;
    if (typeof assertion !== 'string' || !assertion)
      throw new errors.InvalidRequest("missing required parameter 'assertion'");
    const { accountId } = await deps.verifier.verifyAssertion(assertion);
    ctx.body = await issueAccessToken(ctx, accountId, 'jwt_bearer', deps.scopes);
  };
}
