import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/schema.js';

type Features = NonNullable<Configuration['features']>;

/**
 * Algorithms a signed request object (RFC 9101) may use: asymmetric only, so a request object is
 * verified with the keys the client registered (`jwks` / `jwks_uri`), never with its shared
 * secret; `none` is never accepted (an unsigned request object proves nothing).
 */
export const REQUEST_OBJECT_SIGNING_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA'] as const;

/**
 * Pushed authorization requests (RFC 9126) at `/par`, for confidential and public clients: the
 * client authenticates as at /token (same failure budgets and registered-method check, see
 * internals.ts interceptClientAuthentication) and gets a `request_uri` that lives in the store
 * (the PushedAuthorizationRequest model), so any instance can serve the /authorize that
 * follows; it lasts at most 60 s (oidc-provider's limit) and is spent by the authorization
 * response, once even under concurrent use (internals.ts spendPushedRequestsOnce). A client with `require_pushed_authorization_requests` (or every client, with
 * `par.requiredForAllClients`) may start an authorization in no other way. Unregistered
 * redirect URIs stay refused (RFC 9126 §2.4 allows them; Gatehouse does not).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126
 */
export function buildPushedRequestFeatures(config: Config): Pick<Features, 'pushedAuthorizationRequests'> {
  return {
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: config.par.requiredForAllClients,
      allowUnregisteredRedirectUris: false,
    },
  };
}

/**
 * Signed request objects (RFC 9101): the `request` parameter at /authorize and /par, signed with
 * a key of the client's `jwks` / `jwks_uri`, `iss` its client_id and `aud` the issuer. A client
 * with `require_signed_request_object` must send one. `request_uri` is accepted only as issued
 * by /par: oidc-provider fetches no other URI (which would let anyone make the server request
 * URLs of their choosing) and answers `request_uri_not_supported`. A request object's `jti` is
 * accepted once (internals.ts refuseReplayedRequestObjects).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9101
 */
export function buildRequestObjectFeatures(): Pick<Features, 'requestObjects'> {
  return { requestObjects: { enabled: true, requireSignedRequestObject: false } };
}
