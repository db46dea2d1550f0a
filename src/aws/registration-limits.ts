import { AwsApiError } from './errors.js';
import type { registerClientRequest } from './wire.js';
import type { z } from 'zod';
import { REGISTRATION_LIMITS, clientNameProblem } from '../oidc/registration-limits.js';

/** Throws InvalidClientMetadataException when the name is too long, blank or deceptive. */
export function checkClientName(name: string): void {
  const problem = clientNameProblem(name, 'clientName');
  if (problem !== undefined) throw metadata(problem);
}

/** Throws InvalidClientMetadataException when a list or string member is over its bound. */
export function checkRegistrationBounds(request: z.infer<typeof registerClientRequest>): void {
  const L = REGISTRATION_LIMITS;
  checkList('redirectUris', request.redirectUris, L.redirectUris, L.redirectUriLength);
  checkList('scopes', request.scopes, L.scopes, L.scopeLength);
  // Three grant types exist for these clients; duplicates are folded, so allow a little slack.
  checkList('grantTypes', request.grantTypes, L.grantTypes * 2, L.grantTypeLength);
  checkString('issuerUrl', request.issuerUrl, L.issuerUrlLength);
  checkString('entitledApplicationArn', request.entitledApplicationArn, L.entitledApplicationArnLength);
  checkString('clientType', request.clientType, 64);
}

function checkList(member: string, list: string[] | undefined, count: number, length: number) {
  if (!list) return;
  if (list.length > count) throw metadata(`${member} may hold at most ${count} entries`);
  for (const entry of list) checkString(`${member} entries`, entry, length);
}

function checkString(member: string, value: string | undefined, length: number) {
  if (value !== undefined && value.length > length)
    throw metadata(`${member} must be at most ${length} characters`);
}

function metadata(description: string) {
  return new AwsApiError('invalid_client_metadata', description);
}
