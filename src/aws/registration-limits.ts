import { AwsApiError } from './errors.js';
import type { registerClientRequest } from './wire.js';
import type { z } from 'zod';

/** Bounds on RegisterClient members: anyone may call it, and what it stores lives for months. */
export const REGISTRATION_LIMITS = {
  clientNameCodePoints: 128,
  redirectUris: 10,
  redirectUriLength: 2048,
  scopes: 25,
  scopeLength: 256,
  grantTypes: 3,
  grantTypeLength: 128,
  issuerUrlLength: 2048,
  entitledApplicationArnLength: 2048,
} as const;

/**
 * Characters refused in client names, which the sign-in and consent pages show to users: C0 and
 * C1 controls and DEL, bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A–U+202E, U+2066–U+2069), and zero-width characters (U+200B–U+200D, U+2060,
 * U+FEFF), which let a name look like another one.
 *
 * @see https://www.unicode.org/reports/tr9/ (explicit directional formatting characters)
 * @see https://www.unicode.org/reports/tr36/ (Unicode security considerations)
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's purpose
const DECEPTIVE = /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/u;

/** Throws InvalidClientMetadataException when the name is too long, blank or deceptive. */
export function checkClientName(name: string): void {
  // With the u flag a surrogate matches only when unpaired (a pair is one code point).
  if (/[\uD800-\uDFFF]/u.test(name)) throw metadata('clientName contains an unpaired surrogate');
  if ([...name].length > REGISTRATION_LIMITS.clientNameCodePoints)
    throw metadata(`clientName must be at most ${REGISTRATION_LIMITS.clientNameCodePoints} characters`);
  if (!/\S/u.test(name)) throw metadata('clientName must not be blank');
  const found = DECEPTIVE.exec(name)?.[0];
  if (found !== undefined) {
    const code = found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw metadata(
      `clientName must not contain control, bidirectional or zero-width characters (found U+${code})`,
    );
  }
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
