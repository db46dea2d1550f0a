import type { z } from 'zod';
import type Provider from 'oidc-provider';
import { AwsApiError } from './errors.js';
import { unwrap, type Caller, type Delegate } from './delegate.js';
import { toCreateTokenResponse } from './create-token.js';
import type { createTokenWithIamRequest } from './wire.js';

const IAM_GRANTS = new Set([
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/**
 * CreateTokenWithIAM: the caller has proved an IAM identity (SigV4, checked by the router), so
 * it may act for the client without the client's secret. The request becomes a standard
 * token request authenticated as the client (client_secret_post with its stored secret, or
 * none for public clients) and the provider's grants do the rest.
 */
export async function createTokenWithIam(
  deps: { delegate: Delegate; provider: Provider },
  request: z.infer<typeof createTokenWithIamRequest>,
  caller: Caller,
) {
  if (!IAM_GRANTS.has(request.grantType)) {
    throw new AwsApiError(
      'unsupported_grant_type',
      `grant type "${request.grantType}" is not supported by CreateTokenWithIAM`,
    );
  }
  const client = await deps.provider.Client.find(request.clientId);
  if (!client) throw new AwsApiError('invalid_client', 'client is invalid');
  const method = client.clientAuthMethod;
  if (method !== 'none' && method !== 'client_secret_post' && method !== 'client_secret_basic') {
    throw new AwsApiError('invalid_client', `clients using ${method} cannot be used with CreateTokenWithIAM`);
  }
  const auth: Record<string, string> = {};
  const headers: Record<string, string> = {};
  if (method === 'client_secret_basic') {
    const id = encodeURIComponent(client.clientId);
    const secret = encodeURIComponent(client.clientSecret ?? '');
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  } else {
    auth.client_id = client.clientId;
    if (method === 'client_secret_post') auth.client_secret = client.clientSecret ?? '';
  }
  const body = unwrap(
    await deps.delegate(
      '/token',
      {
        ...auth,
        grant_type: request.grantType,
        code: request.code,
        refresh_token: request.refreshToken,
        assertion: request.assertion,
        scope: request.scope?.length ? request.scope.join(' ') : undefined,
        redirect_uri: request.redirectUri,
        code_verifier: request.codeVerifier,
        subject_token: request.subjectToken,
        subject_token_type: request.subjectTokenType,
        requested_token_type: request.requestedTokenType,
      },
      caller,
      headers,
    ),
  );
  return {
    ...toCreateTokenResponse(body),
    issuedTokenType: body.issued_token_type,
    scope: typeof body.scope === 'string' && body.scope ? body.scope.split(' ') : undefined,
  };
}
