import type { Client } from 'oidc-provider';
import { isAwsClient } from './aws-clients.js';

/**
 * Client metadata member marking clients registered at /register (RFC 7591). Gatehouse sets it
 * on every registration and update there (whatever the request said; see
 * registration-policy.ts), so a stored client keeps the restrictions of self-registration.
 */
export const REGISTERED_CLIENT_METADATA = 'gatehouse_registered';

/**
 * Client metadata member set on a client registered with a trusted initial access token (see
 * initial-access-tokens.ts): the pages then do not say a third party registered it.
 */
export const TRUSTED_REGISTRATION_METADATA = 'gatehouse_registration_trusted';

const member = (client: Client | undefined, camel: string, snake: string): unknown => {
  const record = client as unknown as Record<string, unknown> | undefined;
  return record?.[camel] ?? record?.[snake];
};

/** Whether a client was registered at /register (oidc-provider camelCases the member). */
export function isRegisteredClient(client: Client | undefined): boolean {
  return member(client, 'gatehouseRegistered', REGISTERED_CLIENT_METADATA) === true;
}

/**
 * Whether the pages must say that whoever registered the client chose its name: registered
 * through the AWS API, or at /register without a trusted initial access token.
 */
export function isUnverifiedClient(client: Client | undefined): boolean {
  if (isAwsClient(client)) return true;
  return (
    isRegisteredClient(client) &&
    member(client, 'gatehouseRegistrationTrusted', TRUSTED_REGISTRATION_METADATA) !== true
  );
}
