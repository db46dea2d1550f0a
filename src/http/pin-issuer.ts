import type { Context, Next } from 'koa';

/**
 * Every URL oidc-provider builds (discovery, redirects, verification_uri) derives from the
 * request's host and protocol. Overwrite them with the issuer's so that neither `Host` nor
 * `X-Forwarded-*` can change them. The app runs with `proxy = true` so the pinned
 * protocol applies; X-Forwarded-For is dropped so the client IP is the socket's.
 */
export function createPinIssuer(issuer: string) {
  const { host, protocol } = new URL(issuer);
  const proto = protocol.replace(':', '');
  return async function pinIssuer(ctx: Context, next: Next) {
    const headers = ctx.req.headers;
    // Kept for verifying AWS SigV4 signatures, which cover the Host the client sent.
    ctx.state.originalHost = headers.host;
    headers.host = host;
    headers['x-forwarded-host'] = host;
    headers['x-forwarded-proto'] = proto;
    delete headers['x-forwarded-for'];
    delete headers.forwarded;
    await next();
  };
}
