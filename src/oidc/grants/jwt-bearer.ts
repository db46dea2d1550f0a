import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AssertionVerifier } from './trusted-assertions.js';
import { issueAccessToken } from './issue-access-token.js';

export const grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const parameters = ['assertion', 'scope'];

/**
 * The JWT bearer grant: a JWT from a trusted issuer, naming a known account, exchanged for a
 * Gatehouse access token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export function createJwtBearerHandler(deps: {
  verifyAssertion: AssertionVerifier;
  scopes: readonly string[];
}) {
  return async function jwtBearerHandler(ctx: KoaContextWithOIDC) {
    const assertion = ctx.oidc.params?.assertion;
    if (typeof assertion !== 'string' || !assertion)
      throw new errors.InvalidRequest("missing required parameter 'assertion'");
    const { accountId } = await deps.verifyAssertion(assertion);
    ctx.body = await issueAccessToken(ctx, accountId, 'jwt_bearer', deps.scopes);
  };
}
