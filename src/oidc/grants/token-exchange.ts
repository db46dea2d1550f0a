import { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider';
import type { AssertionVerifier } from './trusted-assertions.js';
import { issueAccessToken, type TokenBounds } from './issue-access-token.js';
import { lineageOf, MAX_EXCHANGE_DEPTH } from './exchange-lineage.js';
import { isAwsClient } from '../aws-clients.js';
import { mayExchangeFrom } from '../client-rights.js';

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
 * Token exchange: a subject token exchanged for a new Gatehouse access token for the calling
 * client, never more than the subject token was:
 * - a Gatehouse access token issued to the caller, or to a client listed in the caller's
 *   `gatehouse_may_exchange_from`: at most its scopes and audience, ending no later than it,
 *   and ending with it or its grant (exchange-lineage.ts); never a DPoP-bound one;
 * - a Gatehouse ID token (scope at most `openid`) or a trusted issuer's JWT (at most its `scope`
 *   claim, if any), as trusted-assertions.ts accepts them, ending no later than its `exp`.
 * Only access tokens are issued; delegation (actor tokens) is not supported. Clients registered
 * anonymously through the AWS API never get this grant.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export function createTokenExchangeHandler(deps: { verifier: AssertionVerifier; scopes: readonly string[] }) {
  return async function tokenExchangeHandler(ctx: KoaContextWithOIDC) {
    const { client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient();
    if (isAwsClient(client)) {
      throw new errors.UnauthorizedClient('requested grant type is not allowed for this client');
    }
    const params = (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
    const { subject_token: subjectToken, subject_token_type: subjectType } = params;
    if (!subjectToken) throw new errors.InvalidRequest("missing required parameter 'subject_token'");
    if (!subjectType) throw new errors.InvalidRequest("missing required parameter 'subject_token_type'");
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN) {
      throw new errors.InvalidRequest('only access tokens can be requested');
    }
    if (params.actor_token) throw new errors.InvalidRequest('actor_token is not supported');

    let subject: { accountId: string; bounds: TokenBounds };
    if (subjectType === ACCESS_TOKEN && !subjectToken.includes('.')) {
      subject = await fromAccessToken(ctx, client, subjectToken);
    } else if (subjectType === ACCESS_TOKEN || subjectType === ID_TOKEN || subjectType === JWT) {
      const { accountId, payload, source } = await deps.verifier.verifySubjectJwt(subjectToken, client);
      const scope = source === 'self' ? 'openid' : payload.scope;
      subject = {
        accountId,
        bounds: {
          expiresAt: payload.exp,
          ...(typeof scope === 'string' ? { scopes: new Set(scope.split(' ').filter(Boolean)) } : {}),
        },
      };
    } else {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    const body = await issueAccessToken(
      ctx,
      subject.accountId,
      'token_exchange',
      deps.scopes,
      subject.bounds,
    );
    ctx.body = { ...body, issued_token_type: ACCESS_TOKEN };
  };
}

/** A Gatehouse access token as subject: valid, the caller's to exchange, and its grant valid. */
async function fromAccessToken(ctx: KoaContextWithOIDC, client: Client, value: string) {
  const invalid = () => new errors.InvalidGrant('subject_token is invalid or expired');
  const { AccessToken, Grant } = ctx.oidc.provider;
  const token = await AccessToken.find(value);
  if (!token || token.isExpired || !token.accountId || !token.grantId) throw invalid();
  // A DPoP-bound token is usable only with its key (RFC 9449): exchanging it for a Bearer token
  // would undo the binding.
  if (token.jkt) throw new errors.InvalidGrant('a DPoP-bound subject_token cannot be exchanged');
  if (!mayExchangeFrom(client, token.clientId)) {
    throw new errors.InvalidGrant('subject_token was issued to a client this client may not exchange from');
  }
  // Grant.find also checks the grant's own lineage when the subject was itself exchanged.
  const grant = await Grant.find(token.grantId, { ignoreExpiration: true });
  if (!grant || grant.isExpired || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
    throw invalid();
  }
  const depth = (lineageOf(grant)?.depth ?? 0) + 1;
  if (depth > MAX_EXCHANGE_DEPTH) {
    throw new errors.InvalidGrant(`subject_token was already exchanged ${MAX_EXCHANGE_DEPTH} times in a row`);
  }
  return {
    accountId: token.accountId,
    bounds: {
      scopes: token.scopes,
      expiresAt: token.exp,
      ...(token.aud !== undefined ? { audience: token.aud } : {}),
      lineage: { accessToken: token.jti, depth },
    } satisfies TokenBounds,
  };
}
