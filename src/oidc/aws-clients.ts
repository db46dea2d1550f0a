import type { Client } from 'oidc-provider';

/**
 * Client metadata member marking clients registered through the AWS API's RegisterClient.
 * Declared in `extraClientMetadata` so oidc-provider stores and returns it.
 */
export const AWS_CLIENT_METADATA = 'gatehouse_aws_client';

/**
 * Client metadata member set on a RegisterClient registration once it has obtained a token
 * (its stored lifetime has then been extended; see aws-registrations.ts).
 */
export const AWS_CLIENT_USED_METADATA = 'gatehouse_aws_registration_used';

/** Whether a client was registered through RegisterClient (oidc-provider camelCases the member). */
export function isAwsClient(client: Client | undefined): boolean {
  const record = client as unknown as Record<string, unknown> | undefined;
  return record?.gatehouseAwsClient === true || record?.[AWS_CLIENT_METADATA] === true;
}

/** Whether a RegisterClient registration has already been marked as used. */
export function isUsedAwsRegistration(client: Client | undefined): boolean {
  const record = client as unknown as Record<string, unknown> | undefined;
  return record?.gatehouseAwsRegistrationUsed === true || record?.[AWS_CLIENT_USED_METADATA] === true;
}
