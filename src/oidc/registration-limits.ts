/**
 * Bounds on what a self-registering client may store, shared by the AWS API's RegisterClient
 * (src/aws/registration-limits.ts) and RFC 7591 registration at /register
 * (src/oidc/registration-policy.ts): anyone may register, and what is stored lives long.
 */
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
  /** Any other string member (RFC 7591 registration). */
  stringLength: 2048,
  /** Any other list member (RFC 7591 registration). */
  listEntries: 10,
  /** Keys in an inline `jwks`, and its serialized size. */
  jwksKeys: 10,
  jwksBytes: 16384,
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

/**
 * What is wrong with a self-chosen client name (too long, blank or deceptive), named `member`
 * in the message; undefined when nothing is.
 */
export function clientNameProblem(name: string, member: string): string | undefined {
  // With the u flag a surrogate matches only when unpaired (a pair is one code point).
  if (/[\uD800-\uDFFF]/u.test(name)) return `${member} contains an unpaired surrogate`;
  if ([...name].length > REGISTRATION_LIMITS.clientNameCodePoints)
    return `${member} must be at most ${REGISTRATION_LIMITS.clientNameCodePoints} characters`;
  if (!/\S/u.test(name)) return `${member} must not be blank`;
  const found = DECEPTIVE.exec(name)?.[0];
  if (found !== undefined) {
    const code = found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `${member} must not contain control, bidirectional or zero-width characters (found U+${code})`;
  }
  return undefined;
}
