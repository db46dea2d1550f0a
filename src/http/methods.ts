import type { Context, Next } from 'koa';

/** The methods Gatehouse's routers implement (koa-router's set). */
const IMPLEMENTED = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The methods some Gatehouse route serves. */
const SERVED = 'GET, HEAD, POST, PUT, DELETE, OPTIONS';

/**
 * Refuses methods no route implements (TRACE, PROPFIND, PURGE, …) with 405 and the OAuth error
 * shape. koa-router would answer them 501 Not Implemented: a 5xx for what is the client's
 * mistake, which anyone could use to inflate the server error rate.
 */
export async function refuseUnimplementedMethods(ctx: Context, next: Next) {
  if (IMPLEMENTED.has(ctx.method)) return next();
  ctx.status = 405;
  ctx.set('allow', SERVED);
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: `the ${ctx.method} method is not supported` };
}
