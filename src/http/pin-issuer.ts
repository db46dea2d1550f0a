import type { Context, Next } from 'koa';

/**
 * Every URL oidc-provider builds (discovery, redirects, verification_uri) derives from the
 * request's host and protocol. Overwrite them with the issuer's so that neither `Host` nor
 * `X-Forwarded-*` can change them (the apps run with `proxy = true` so the pinned protocol
 * applies, and cookies are `Secure` when the issuer is https).
 *
 * The client IP (for rate limits and logs) comes from X-Forwarded-For only when TRUST_PROXY
 * says how many proxies stand in front: the address the outermost trusted proxy saw. Otherwise
 * the header is dropped and the socket's address is used.
 */
export function createPinIssuer(issuer: string, trustedProxies: number) {
  const { host, protocol } = new URL(issuer);
  const proto = protocol.replace(':', '');
  return function pinIssuer(ctx: Context, next: Next) {
    const headers = ctx.req.headers;
    // Kept for verifying AWS SigV4 signatures, which cover the Host the client sent.
    ctx.state.originalHost = headers.host;
    headers.host = host;
    headers['x-forwarded-host'] = host;
    headers['x-forwarded-proto'] = proto;
    delete headers.forwarded;
    if (trustedProxies === 0) delete headers['x-forwarded-for'];
    // Koa memoizes ctx.ip on first read: read it here, with the host app's settings, so the
    // mounted provider (whose own settings would trust every hop) sees the same address.
    void ctx.ip;
    return next();
  };
}
