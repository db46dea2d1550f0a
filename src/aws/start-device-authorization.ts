import type { z } from 'zod';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { unwrap, type Caller, type Delegate } from './delegate.js';
import type { startDeviceAuthorizationRequest } from './wire.js';

/**
 * StartDeviceAuthorization: the core's RFC 8628 device authorization (same store, limits, pages
 * and /device verification page). `startUrl` is opaque. The scope is the client's registered
 * scopes, or `aws.defaultScopes`.
 */
export async function startDeviceAuthorization(
  deps: { delegate: Delegate; provider: Provider; config: Config },
  request: z.infer<typeof startDeviceAuthorizationRequest>,
  caller: Caller,
) {
  const client = await deps.provider.Client.find(request.clientId);
  const scope = client?.scope ?? deps.config.aws.defaultScopes.join(' ');
  const body = unwrap(
    await deps.delegate(
      '/device_authorization',
      { client_id: request.clientId, client_secret: request.clientSecret, scope },
      caller,
    ),
  );
  return {
    deviceCode: body.device_code,
    userCode: body.user_code,
    verificationUri: body.verification_uri,
    verificationUriComplete: body.verification_uri_complete,
    expiresIn: body.expires_in,
    interval: body.interval,
  };
}
