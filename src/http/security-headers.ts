import type { Context, Next } from 'koa';

/**
 * Headers every response carries. The CSP allows only same-origin scripts and styles (oidc-provider
 * adds the hash of its own inline form_post script); it has no form-action directive because
 * browsers apply it to the redirect back to the client after a form submission.
 */
export function createSecurityHeaders(options: { https: boolean }) {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return function securityHeaders(ctx: Context, next: Next) {
    ctx.set('content-security-policy', csp);
    ctx.set('x-frame-options', 'DENY');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'no-referrer');
    ctx.set('cross-origin-resource-policy', 'same-site');
    if (options.https) ctx.set('strict-transport-security', 'max-age=31536000; includeSubDomains');
    return next();
  };
}
