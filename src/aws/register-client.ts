import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import { AWS_CLIENT_METADATA } from '../oidc/aws-clients.js';
import { AwsApiError } from './errors.js';
import type { registerClientRequest } from './wire.js';
import type { z } from 'zod';
import { checkClientName, checkRegistrationBounds } from './registration-limits.js';
import { redirectUriProblem } from './redirect-uris.js';

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
/**
 * The only grants such a client may have: the model's three. Never client_credentials,
 * jwt-bearer or token-exchange, which act without a user and are for clients an operator
 * configured.
 */
const GRANTS = new Set(['authorization_code', 'refresh_token', DEVICE_CODE]);

/**
 * RegisterClient: creates a real Gatehouse client (a native application authenticating with
 * client_secret_post), stored like any dynamically registered client, so it also works at the
 * standard endpoints. Anyone may call it, so what it accepts is narrow (see redirect-uris.ts and
 * registration-limits.ts) and PKCE is required of these clients (provider-config.ts). The record
 * lives `aws.unusedRegistrationLifetimeSeconds` until its first token (aws-registrations.ts in
 * src/oidc extends it); `clientSecretExpiresAt` is the end of the full lifetime.
 *
 * `beforeStore` runs once the request is valid, just before the record is written (the global
 * registration cap: only registrations that would be stored count).
 */
export async function registerClient(
  deps: { provider: Provider; store: Store; config: Config; beforeStore?: () => Promise<void> },
  request: z.infer<typeof registerClientRequest>,
) {
  const { provider, store, config } = deps;
  checkRegistrationBounds(request);
  checkClientName(request.clientName);
  if (request.clientType !== 'public') {
    throw new AwsApiError('invalid_client_metadata', 'clientType must be "public"');
  }
  const grantTypes = request.grantTypes?.length
    ? [...new Set(request.grantTypes)]
    : [DEVICE_CODE, 'refresh_token'];
  const unsupported = grantTypes.find((g) => !GRANTS.has(g));
  if (unsupported)
    throw new AwsApiError('unsupported_grant_type', `grant type "${unsupported}" is not supported`);
  const redirectUris = request.redirectUris ?? [];
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new AwsApiError(
      'invalid_redirect_uri',
      'redirectUris is required for the authorization_code grant',
    );
  }
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri, config.aws.allowedRedirectUris);
    if (problem) throw new AwsApiError('invalid_redirect_uri', problem);
  }
  if (request.scopes) {
    const unknown = request.scopes.find((scope) => !scopeSupported(config, scope));
    if (unknown !== undefined) throw new AwsApiError('invalid_scope', `scope "${unknown}" is not supported`);
  }

  const now = Math.floor(Date.now() / 1000);
  const lifetime = config.aws.registrationLifetimeSeconds;
  const clientId = randomBytes(16).toString('base64url');
  const clientSecret = randomBytes(48).toString('base64url');
  const metadata: Record<string, unknown> = {
    client_id: clientId,
    client_secret: clientSecret,
    client_name: request.clientName,
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: redirectUris,
    client_id_issued_at: now,
    client_secret_expires_at: now + lifetime,
    [AWS_CLIENT_METADATA]: true,
  };
  if (request.scopes?.length) metadata.scope = [...new Set(request.scopes)].join(' ');

  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message: string };
    const code = e.error === 'invalid_redirect_uri' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
    throw new AwsApiError(code, e.error_description ?? e.message);
  }
  await deps.beforeStore?.();
  await store
    .adapter('Client')
    .upsert(clientId, metadata as never, Math.min(config.aws.unusedRegistrationLifetimeSeconds, lifetime));

  const base = `${config.issuer}/aws/oidc`;
  return {
    clientId,
    clientSecret,
    clientIdIssuedAt: now,
    clientSecretExpiresAt: now + lifetime,
    authorizationEndpoint: `${base}/authorize`,
    tokenEndpoint: `${base}/token`,
  };
}

function scopeSupported(config: Config, scope: string): boolean {
  return (
    config.scopes.includes(scope) ||
    Object.values(config.resourceServers).some((server) => server.scope.split(' ').includes(scope))
  );
}
