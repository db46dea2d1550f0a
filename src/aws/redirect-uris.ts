/**
 * Which redirect URIs a client registered through RegisterClient may use. Anyone can register
 * such a client without authentication, so a redirect URI outside the user's own machine would
 * let a stranger collect codes: only loopback URIs are accepted (RFC 8252 §7.3; oidc-provider
 * matches them on any port), plus what the operator lists in `aws.allowedRedirectUris`.
 *
 * - Loopback: `http://127.0.0.1` or `http://[::1]`, any or no port, any path. `localhost` is
 *   refused (RFC 8252 §8.3: it may resolve elsewhere); the AWS CLI uses 127.0.0.1.
 * - An entry ending in `:` allows that scheme (`com.example.app:` allows `com.example.app:/cb`).
 * - Any other entry is an https prefix that must end at a path boundary: `https://a.example/cb`
 *   allows `https://a.example/cb`, `https://a.example/cb/x` and `https://a.example/cb?x`, not
 *   `https://a.example/cb2` nor `https://a.example.evil/`.
 *
 * Every URI must be in the canonical form a browser would follow (no `..`, no upper-case host, no
 * credentials or fragment), so what is compared is what the user agent will be sent to.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export function redirectUriProblem(uri: string, allowed: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `redirect URI "${truncate(uri)}" is not an absolute URI`;
  }
  if (url.href !== uri && url.href !== `${uri}/`)
    return `redirect URI "${truncate(uri)}" is not in canonical form`;
  if (url.username || url.password || url.hash || uri.includes('#'))
    return `redirect URI "${truncate(uri)}" must not contain credentials or a fragment`;
  if (isLoopback(url, uri)) return undefined;
  if (allowed.some((entry) => matches(uri, entry))) return undefined;
  return `redirect URI "${truncate(uri)}" is not allowed: use a loopback URI such as http://127.0.0.1:<port>/oauth/callback`;
}

function isLoopback(url: URL, raw: string): boolean {
  return (
    url.protocol === 'http:' &&
    (url.hostname === '127.0.0.1' || url.hostname === '[::1]') &&
    // The written form, not only the parsed one (which turns 0x7f.1 or 2130706433 into 127.0.0.1).
    /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?(\/|\?|$)/.test(raw)
  );
}

function matches(uri: string, entry: string): boolean {
  if (entry.endsWith(':')) return uri.startsWith(entry);
  if (uri === entry) return true;
  if (!uri.startsWith(entry)) return false;
  return entry.endsWith('/') || uri[entry.length] === '/' || uri[entry.length] === '?';
}

function truncate(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}
