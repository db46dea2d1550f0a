import { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * The FAPI 2.0 Security Profile for the clients that ask for it with the client metadata
 * `"gatehouse_profile": "fapi2"`. oidc-provider applies its own FAPI 2.0 rules to such a client
 * (features.fapi `profile`: client assertion `aud` must be the issuer, `redirect_uri` required);
 * Gatehouse adds the rest here: the client's registration must name private_key_jwt with ES256
 * or PS256, response type `code` and response mode `query` only, and it always gets PAR,
 * DPoP-bound tokens and ES256-signed ID tokens. PKCE S256 (provider-config.ts `pkce.required`)
 * and authorization codes of at most 60 s (`ttl.AuthorizationCode`) are required for it too;
 * `iss` is in every authorization response for every client.
 *
 * @see https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3
 */

/** The client metadata member naming a client's security profile. */
export const PROFILE_METADATA = 'gatehouse_profile';

/** The profiles `gatehouse_profile` may name. */
export const PROFILES = ['fapi2'] as const;

/** Algorithms a FAPI 2.0 client may sign its client assertions with (FAPI 2.0 §5.4, cryptography). */
export const FAPI_SIGNING_ALGS: readonly string[] = ['ES256', 'PS256'];

/** The longest an authorization code of a FAPI 2.0 client lives (FAPI 2.0 §5.3: 60 seconds at most). */
export const FAPI_CODE_TTL_SECONDS = 60;

const member = (client: Client | undefined, name: string): unknown =>
  (client as unknown as Record<string, unknown> | undefined)?.[name];

/** Whether the client is under the FAPI 2.0 Security Profile. */
export function isFapi2Client(client: Client | undefined): boolean {
  return member(client, PROFILE_METADATA) === 'fapi2';
}

/** oidc-provider's `features.fapi.profile`: '2.0' for FAPI 2.0 clients, none for the others. */
export function fapiProfile(_ctx: KoaContextWithOIDC, client?: Client): '2.0' | undefined {
  return isFapi2Client(client) ? '2.0' : undefined;
}

/** The authorization code TTL for `client`: `configured`, or at most 60 s for a FAPI 2.0 client. */
export function authorizationCodeTtl(configured: number, client: Client | undefined): number {
  return isFapi2Client(client) ? Math.min(configured, FAPI_CODE_TTL_SECONDS) : configured;
}

/**
 * Checks a client registration under `gatehouse_profile`, from oidc-provider's
 * `extraClientMetadata.validator` (so configured, test-API and registered clients alike), and
 * sets what the profile implies: `require_pushed_authorization_requests`,
 * `dpop_bound_access_tokens`, `response_modes: ["query"]` and `id_token_signed_response_alg:
 * "ES256"`. A configured client that breaks a
 * rule stops start-up with this message, prefixed by the client's id (gatehouse.ts).
 */
export function validateProfile(value: unknown, metadata: Record<string, unknown>): void {
  const invalid = (message: string): never => {
    throw new errors.InvalidClientMetadata(`${PROFILE_METADATA} "fapi2": ${message}`);
  };
  if (value === undefined) return;
  if (!PROFILES.includes(value as (typeof PROFILES)[number])) {
    throw new errors.InvalidClientMetadata(`${PROFILE_METADATA} must be one of ${PROFILES.join(', ')}`);
  }
  // FAPI 2.0 §5.3: only confidential clients, authenticated with private_key_jwt (or mTLS).
  if (metadata.token_endpoint_auth_method !== 'private_key_jwt') {
    invalid('token_endpoint_auth_method must be "private_key_jwt" (a FAPI 2.0 client is confidential)');
  }
  if (!FAPI_SIGNING_ALGS.includes(String(metadata.token_endpoint_auth_signing_alg))) {
    invalid(`token_endpoint_auth_signing_alg must be one of ${FAPI_SIGNING_ALGS.join(', ')}`);
  }
  const responseTypes = Array.isArray(metadata.response_types) ? (metadata.response_types as unknown[]) : [];
  if (responseTypes.some((type) => type !== 'code')) invalid('response_types must be ["code"]');
  const grantTypes = Array.isArray(metadata.grant_types) ? (metadata.grant_types as unknown[]) : [];
  if (grantTypes.includes('implicit')) invalid('the implicit grant is not allowed');
  const modes = metadata.response_modes;
  if (Array.isArray(modes) && modes.some((mode) => mode !== 'query'))
    invalid('response_modes must be ["query"]');
  metadata.response_modes = ['query'];
  metadata.require_pushed_authorization_requests = true;
  metadata.dpop_bound_access_tokens = true;
  // FAPI 2.0 §5.4 allows PS256, ES256 and EdDSA: of Gatehouse's signing keys, ES256.
  metadata.id_token_signed_response_alg = 'ES256';
}
