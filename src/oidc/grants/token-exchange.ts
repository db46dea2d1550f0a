import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AssertionVerifier } from './trusted-assertions.js';
import { issueAccessToken } from './issue-access-token.js';

export const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const parameters = [
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'actor_token',
  'actor_token_type',
  'audience',
  'resource',
  'scope',
];

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

/**
 * Token exchange: a Gatehouse access token, a Gatehouse ID token issued to the calling client,
 * or a JWT from a trusted issuer, exchanged for a new Gatehouse access token for the calling
 * client. Only access tokens are issued; delegation (actor tokens) is not supported.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export function createTokenExchangeHandler(deps: {
  verifyAssertion: AssertionVerifier;
  scopes: readonly string[];
}) {
  return async function tokenExchangeHandler(ctx: KoaContextWithOIDC) {
    const params = (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
    const { subject_token: subjectToken, subject_token_type: subjectType } = params;
    if (!subjectToken) throw new errors.InvalidRequest("missing required parameter 'subject_token'");
    if (!subjectType) throw new errors.InvalidRequest("missing required parameter 'subject_token_type'");
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN) {
      throw new errors.InvalidRequest('only access tokens can be requested');
    }
    if (params.actor_token) throw new errors.InvalidRequest('actor_token is not supported');

    let accountId: string;
    if (subjectType === ACCESS_TOKEN && !subjectToken.includes('.')) {
      const token = await ctx.oidc.provider.AccessToken.find(subjectToken);
      if (!token || token.isExpired || !token.accountId)
        throw new errors.InvalidGrant('subject_token is invalid or expired');
      const grant = token.grantId ? await ctx.oidc.provider.Grant.find(token.grantId) : undefined;
      if (!grant) throw new errors.InvalidGrant('subject_token is invalid or expired');
      accountId = token.accountId;
    } else if (subjectType === ACCESS_TOKEN || subjectType === ID_TOKEN || subjectType === JWT) {
      ({ accountId } = await deps.verifyAssertion(subjectToken, ctx.oidc.client?.clientId));
    } else {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    const body = await issueAccessToken(ctx, accountId, 'token_exchange', deps.scopes);
    ctx.body = { ...body, issued_token_type: ACCESS_TOKEN };
  };
}
