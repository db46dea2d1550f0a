import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { clientSchema } from '../config/schema.js';
import { AWS_CLIENT_METADATA, AWS_CLIENT_USED_METADATA } from './aws-clients.js';
import { EXCHANGE_FROM_METADATA, PRIVILEGED_GRANT_TYPES, RESOURCE_SERVER_METADATA } from './client-rights.js';
import { REGISTERED_CLIENT_METADATA, TRUSTED_REGISTRATION_METADATA } from './registered-clients.js';
import { REGISTRATION_LIMITS, clientNameProblem } from './registration-limits.js';
import { TRUSTED_POLICY } from './initial-access-tokens.js';

/** The provider routes where a client writes its own metadata (RFC 7591 §3.1, RFC 7592 §2.2). */
const SELF_REGISTRATION_ROUTES = new Set(['registration', 'client_update']);

/** Rights only an operator grants (client-rights.ts): a request naming one is refused. */
const OPERATOR_ONLY = [
  RESOURCE_SERVER_METADATA,
  EXCHANGE_FROM_METADATA,
  AWS_CLIENT_METADATA,
  AWS_CLIENT_USED_METADATA,
];

/**
 * URIs the server itself would fetch or post to: keys (`jwks_uri`), the sector identifier
 * (`sector_identifier_uri`), request objects (`request_uris`), logout notices
 * (`backchannel_logout_uri`). From a self-registered client each is a way to make Gatehouse send
 * requests into its own network (SSRF), so they are refused; such a client gives its keys inline
 * (`jwks`), and an operator can configure a client that needs the others.
 */
const SERVER_FETCHED = ['jwks_uri', 'sector_identifier_uri', 'request_uris', 'backchannel_logout_uri'];

type Metadata = Record<string, unknown>;

/**
 * Applies the rules of self-registration to the metadata a client sends to /register or to its
 * registration_client_uri. Called from oidc-provider's `extraClientMetadata.validator` (which
 * may change the metadata it is given), so it runs exactly where the library validates and
 * before anything is stored; outside those routes (configured clients, stored clients being
 * loaded, the AWS API) it does nothing.
 *
 * It marks the client as registered (and as trusted when the initial access token was), refuses
 * every right an operator grants, grants that act without a user, URIs the server would fetch,
 * and deceptive names, bounds every member's size, and runs the configuration file's client
 * schema, so a registered client passes the same checks as a configured one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-5 (registration policies)
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2 (invalid_client_metadata)
 */
export function applyRegistrationPolicy(ctx: KoaContextWithOIDC | undefined, metadata: Metadata): void {
  if (!ctx?.oidc || !SELF_REGISTRATION_ROUTES.has(ctx.oidc.route)) return;
  const invalid = (description: string): never => {
    throw new errors.InvalidClientMetadata(description);
  };

  for (const key of OPERATOR_ONLY) {
    if (metadata[key] !== undefined) invalid(`${key} cannot be self-registered`);
  }
  for (const key of SERVER_FETCHED) {
    if (metadata[key] !== undefined)
      invalid(
        `${key} is not accepted from self-registered clients${key === 'jwks_uri' ? ' (use jwks)' : ''}`,
      );
  }
  const grantTypes = Array.isArray(metadata.grant_types) ? metadata.grant_types.map(String) : [];
  const privileged = grantTypes.find((g) => PRIVILEGED_GRANT_TYPES.includes(g));
  if (privileged !== undefined)
    invalid(`grant type "${privileged}" is not allowed for self-registered clients`);
  if (typeof metadata.client_name === 'string') {
    const problem = clientNameProblem(metadata.client_name, 'client_name');
    if (problem !== undefined) invalid(problem);
  }
  checkBounds(metadata, invalid);
  checkPostLogoutRedirectUris(metadata, invalid);

  // Gatehouse's own markers: whatever the request said (a read-modify-write PUT sends them
  // back), registered, and trusted only through the token.
  metadata[REGISTERED_CLIENT_METADATA] = true;
  if (usedTrustedToken(ctx)) metadata[TRUSTED_REGISTRATION_METADATA] = true;
  else delete metadata[TRUSTED_REGISTRATION_METADATA];

  const checked = clientSchema.safeParse(metadata);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    invalid(`${issue.path.join('.')}: ${issue.message}`);
  }
}

/** Whether the initial (or, on update, registration) access token carries the trusted policy. */
function usedTrustedToken(ctx: KoaContextWithOIDC): boolean {
  const { InitialAccessToken: initial, RegistrationAccessToken: registration } = ctx.oidc.entities as {
    InitialAccessToken?: { policies?: string[] };
    RegistrationAccessToken?: { policies?: string[] };
  };
  const token = ctx.oidc.route === 'registration' ? initial : registration;
  return !!token?.policies?.includes(TRUSTED_POLICY);
}

/** Every member bounded: what anyone may register is stored, listed and shown for a long time. */
function checkBounds(metadata: Metadata, invalid: (description: string) => never): void {
  const L = REGISTRATION_LIMITS;
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string' && value.length > L.stringLength)
      invalid(`${key} must be at most ${L.stringLength} characters`);
    if (Array.isArray(value)) {
      const max = key.endsWith('redirect_uris') ? L.redirectUris : L.listEntries;
      if (value.length > max) invalid(`${key} may hold at most ${max} entries`);
      const length = key.endsWith('redirect_uris') ? L.redirectUriLength : L.stringLength;
      if (value.some((entry) => typeof entry === 'string' && entry.length > length))
        invalid(`${key} entries must be at most ${length} characters`);
    }
  }
  if (typeof metadata.scope === 'string') {
    const scopes = metadata.scope.split(' ');
    if (scopes.length > L.scopes) invalid(`scope may hold at most ${L.scopes} values`);
    if (scopes.some((s) => s.length > L.scopeLength))
      invalid(`scope values must be at most ${L.scopeLength} characters`);
  }
  if (metadata.jwks !== undefined) {
    const keys = (metadata.jwks as { keys?: unknown } | null)?.keys;
    if (Array.isArray(keys) && keys.length > L.jwksKeys) invalid(`jwks may hold at most ${L.jwksKeys} keys`);
    if (JSON.stringify(metadata.jwks).length > L.jwksBytes)
      invalid(`jwks must be at most ${L.jwksBytes} bytes`);
  }
}

/**
 * After logout the browser is sent to a post_logout_redirect_uri: one on a host the client does
 * not also receive codes at would make Gatehouse an open redirector for anyone who registers.
 *
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RedirectionAfterLogout
 */
function checkPostLogoutRedirectUris(metadata: Metadata, invalid: (description: string) => never): void {
  const site = (uri: unknown) => {
    const url = typeof uri === 'string' ? URL.parse(uri) : null;
    return url ? `${url.protocol}//${url.host}` : undefined;
  };
  const sites = new Set((Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris : []).map(site));
  const logout = Array.isArray(metadata.post_logout_redirect_uris) ? metadata.post_logout_redirect_uris : [];
  const stray = logout.find((uri) => site(uri) === undefined || !sites.has(site(uri)));
  if (stray !== undefined)
    invalid('post_logout_redirect_uris must be on the scheme and host of one of the redirect_uris');
}
