import { errors, type Client } from 'oidc-provider';
import { AWS_CLIENT_METADATA, AWS_CLIENT_USED_METADATA, isAwsClient } from './aws-clients.js';
import {
  REGISTERED_CLIENT_METADATA,
  TRUSTED_REGISTRATION_METADATA,
  isRegisteredClient,
} from './registered-clients.js';
import { PROFILE_METADATA, validateProfile } from './fapi-profile.js';

/**
 * Rights a client has only because the operator gave them, as client metadata (in the
 * configuration file's `clients`). oidc-provider keeps these members under their own names
 * (they are declared in `extraClientMetadata`, see provider-config.ts).
 */

/** `true`: users signing in to the client give a second factor (enrolling first if they have none). */
export const REQUIRE_MFA_METADATA = 'require_mfa';

/** Whether signing in to `client` needs two factors under `policy` (`mfa.policy`). */
export function requiresMfa(client: Client | undefined, policy: 'optional' | 'required'): boolean {
  return policy === 'required' || (!!client && member(client, REQUIRE_MFA_METADATA) === true);
}

/** `true`: the client may introspect tokens issued to other clients (RFC 7662 §2.1). */
export const RESOURCE_SERVER_METADATA = 'gatehouse_resource_server';

/** Client ids whose tokens the client may present as a token-exchange `subject_token` (RFC 8693). */
export const EXCHANGE_FROM_METADATA = 'gatehouse_may_exchange_from';

/** Grant types that act beyond one user's consent to one client; never for self-registered clients. */
export const PRIVILEGED_GRANT_TYPES: readonly string[] = [
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
];

/** The extra client metadata members Gatehouse declares. */
export const GATEHOUSE_CLIENT_METADATA = [
  REGISTERED_CLIENT_METADATA,
  TRUSTED_REGISTRATION_METADATA,
  AWS_CLIENT_METADATA,
  AWS_CLIENT_USED_METADATA,
  RESOURCE_SERVER_METADATA,
  EXCHANGE_FROM_METADATA,
  PROFILE_METADATA,
  REQUIRE_MFA_METADATA,
] as const;

const member = (client: Client, name: string): unknown =>
  (client as unknown as Record<string, unknown>)[name];

/**
 * Whether the client may see other clients' tokens at /introspect: the operator marked it, it
 * authenticates (a public client proves nothing about itself), and it did not register itself
 * (through the AWS API or at /register).
 */
export function isResourceServer(client: Client): boolean {
  return (
    member(client, RESOURCE_SERVER_METADATA) === true &&
    client.clientAuthMethod !== 'none' &&
    !isAwsClient(client) &&
    !isRegisteredClient(client)
  );
}

/**
 * Whether `client` may exchange a token issued to `subjectClientId`: its own, or one of the
 * clients the operator listed in its `gatehouse_may_exchange_from`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-5
 */
export function mayExchangeFrom(client: Client, subjectClientId: string | undefined): boolean {
  if (subjectClientId === undefined) return false;
  if (subjectClientId === client.clientId) return true;
  if (isAwsClient(client) || isRegisteredClient(client)) return false;
  const listed = member(client, EXCHANGE_FROM_METADATA);
  return Array.isArray(listed) && listed.includes(subjectClientId);
}

/**
 * oidc-provider's `extraClientMetadata.validator`: checks each Gatehouse member's type, and that
 * a client that registered itself (through the AWS API or at /register) holds none of the rights
 * an operator grants.
 * It runs whenever a client is loaded or registered, so a stored client cannot carry them either.
 */
export function validateClientMetadata(key: string, value: unknown, metadata: Record<string, unknown>): void {
  const invalid = (message: string) => {
    throw new errors.InvalidClientMetadata(message);
  };
  if (value === undefined) return;
  if (key === PROFILE_METADATA) validateProfile(value, metadata);
  if (
    key === AWS_CLIENT_METADATA ||
    key === AWS_CLIENT_USED_METADATA ||
    key === RESOURCE_SERVER_METADATA ||
    key === REGISTERED_CLIENT_METADATA ||
    key === TRUSTED_REGISTRATION_METADATA ||
    key === REQUIRE_MFA_METADATA
  ) {
    if (typeof value !== 'boolean') invalid(`${key} must be a boolean`);
  }
  if (key === RESOURCE_SERVER_METADATA && value === true && metadata.token_endpoint_auth_method === 'none') {
    invalid(`a public client cannot be a resource server (${key})`);
  }
  if (key === EXCHANGE_FROM_METADATA) {
    if (!Array.isArray(value) || !value.every((id) => typeof id === 'string' && id.length > 0)) {
      invalid(`${key} must be an array of client ids`);
    }
  }
  if ((key === AWS_CLIENT_METADATA || key === REGISTERED_CLIENT_METADATA) && value === true) {
    const grantTypes = Array.isArray(metadata.grant_types) ? (metadata.grant_types as unknown[]) : [];
    const privileged = grantTypes.find((g) => PRIVILEGED_GRANT_TYPES.includes(String(g)));
    if (privileged !== undefined)
      invalid(`grant type "${String(privileged)}" is not allowed for this client`);
    if (metadata[RESOURCE_SERVER_METADATA] === true) invalid(`${RESOURCE_SERVER_METADATA} is not allowed`);
    if (Array.isArray(metadata[EXCHANGE_FROM_METADATA]) && metadata[EXCHANGE_FROM_METADATA].length > 0) {
      invalid(`${EXCHANGE_FROM_METADATA} is not allowed`);
    }
  }
}
