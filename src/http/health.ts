import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { createHash } from 'node:crypto';
import type { Store } from '../storage/store.js';
import { isStoreUnavailable } from '../storage/store-unavailable.js';

/** Liveness, readiness and the stylesheet: small routes that need no provider. */
export function createHealthRoutes(deps: { store: Store; stylesheet: string }) {
  const router = new Router();
  const etag = `"${createHash('sha256').update(deps.stylesheet).digest('base64url').slice(0, 16)}"`;

  router.get('/healthz', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('cache-control', 'no-store');
    try {
      await deps.store.ping();
      ctx.body = { status: 'ready' };
    } catch (err) {
      // Not ready is an answer, not an error: the store being down is what this reports, with
      // the reason when the store knows one (e.g. too few Redis replicas acknowledge consumes).
      ctx.status = 503;
      ctx.set('retry-after', '1');
      const reason = isStoreUnavailable(err) ? err.reason : undefined;
      ctx.body = { status: 'unavailable', error: 'temporarily_unavailable', ...(reason ? { reason } : {}) };
    }
  });
  router.get('/assets/gatehouse.css', (ctx) => {
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.set('etag', etag);
    if (ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'text/css';
    ctx.body = deps.stylesheet;
  });
  const routes = router.routes();
  // Matched by exact path first (the routes above, read from the router): the router's own
  // matching would otherwise run on every request.
  const paths = new Set(router.stack.map((layer) => String(layer.path)));
  return function healthRoutes(ctx: Context, next: Next) {
    return paths.has(ctx.path) ? routes(ctx as Parameters<typeof routes>[0], next) : next();
  };
}
