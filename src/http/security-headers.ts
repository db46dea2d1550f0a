import type { Context, Next } from 'koa';

/**
 * Headers every response carries. The CSP allows only same-origin scripts and styles (oidc-provider
 * adds the hash of its own inline form_post script); it has no form-action directive because
 * browsers apply it to the redirect back to the client after a form submission.
 */
export function createSecurityHeaders(options: { https: boolean }) {
  const headers = securityHeaderList(options);
  return function securityHeaders(ctx: Context, next: Next) {
    for (const [name, value] of headers) ctx.set(name, value);
    return next();
  };
}

/**
 * The security headers as name/value pairs, in the order they are set (also used by the
 * discovery and JWKS listener in front of Koa, see http/metadata-listener.ts).
 */
export function securityHeaderList(options: { https: boolean }): [string, string][] {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return [
    ['content-security-policy', csp],
    ['x-frame-options', 'DENY'],
    ['x-content-type-options', 'nosniff'],
    ['referrer-policy', 'no-referrer'],
    ['cross-origin-resource-policy', 'same-site'],
    ...(options.https
      ? [['strict-transport-security', 'max-age=31536000; includeSubDomains'] as [string, string]]
      : []),
  ];
}
