/**
 * Validation of `aws.allowedRedirectUris` entries (the matching itself is in
 * src/aws/redirect-uris.ts). An entry is either a private-use URI scheme ending in `:` in
 * reverse-domain form (RFC 8252 §7.1, e.g. `com.example.app:`), or an `https` URL prefix written
 * in canonical form, without query, fragment or credentials.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.1
 */
export function allowedRedirectUriProblem(entry: string): string | undefined {
  if (entry.endsWith(':')) {
    // A dot keeps out every scheme a browser treats specially (http, https, javascript, data, file…).
    return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(entry)
      ? undefined
      : 'a scheme entry must be a lower-case private-use scheme in reverse-domain form, e.g. "com.example.app:"';
  }
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'not a URL; give an https prefix such as "https://app.example.com/callback" or a scheme such as "com.example.app:"';
  }
  if (url.protocol !== 'https:') return 'a prefix entry must be an https URL';
  if (url.username || url.password) return 'a prefix entry must not contain credentials';
  if (url.search || url.hash || entry.includes('?') || entry.includes('#'))
    return 'a prefix entry must not contain a query or fragment';
  if (url.href !== entry && url.href !== `${entry}/`)
    return `a prefix entry must be written in canonical form ("${url.href}")`;
  return undefined;
}
