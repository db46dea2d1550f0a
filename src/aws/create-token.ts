import type { z } from 'zod';
import { unwrap, type Caller, type Delegate } from './delegate.js';
import type { createTokenRequest } from './wire.js';

/** Maps the OAuth token response to the model's CreateTokenResponse members. */
export function toCreateTokenResponse(body: Record<string, unknown>) {
  return {
    accessToken: body.access_token,
    tokenType: body.token_type,
    expiresIn: body.expires_in,
    refreshToken: body.refresh_token,
    idToken: body.id_token,
  };
}

/**
 * CreateToken: a standard token request at the provider's /token with client_secret_post
 * (device code polling, authorization code with PKCE, refresh with rotation).
 */
export async function createToken(
  deps: { delegate: Delegate },
  request: z.infer<typeof createTokenRequest>,
  caller: Caller,
) {
  const body = unwrap(
    await deps.delegate(
      '/token',
      {
        grant_type: request.grantType,
        client_id: request.clientId,
        client_secret: request.clientSecret,
        device_code: request.deviceCode,
        code: request.code,
        refresh_token: request.refreshToken,
        scope: request.scope?.length ? request.scope.join(' ') : undefined,
        redirect_uri: request.redirectUri,
        code_verifier: request.codeVerifier,
      },
      caller,
    ),
  );
  return toCreateTokenResponse(body);
}
