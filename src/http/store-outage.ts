import type { Context, Next } from 'koa';

/**
 * Every 503 (the store is unreachable) tells clients when to come back (RFC 9110 §10.2.3).
 * oidc-provider renders the StoreUnavailableError body itself; this adds the header.
 */
export function createRetryAfter(seconds = 1) {
  return async function retryAfter(ctx: Context, next: Next) {
    try {
      await next();
    } finally {
      if (ctx.status === 503 && !ctx.headerSent && !ctx.response.get('retry-after')) {
        ctx.set('retry-after', String(seconds));
      }
    }
  };
}
