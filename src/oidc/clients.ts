import type { ClientMetadata } from 'oidc-provider';
import type { ClientConfig } from '../config/schema.js';

/** Converts a configured client to oidc-provider metadata, leaving out unset members. */
export function toProviderClient(client: ClientConfig): ClientMetadata {
  return Object.fromEntries(
    Object.entries(client).filter(([, value]) => value !== undefined),
  ) as ClientMetadata;
}
