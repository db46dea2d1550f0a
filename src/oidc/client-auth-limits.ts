import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RateLimits } from '../http/rate-limits.js';

/** Endpoints where clients authenticate. */
const CLIENT_AUTH_PATHS = new Set(['/token', '/introspect', '/revoke', '/device_authorization']);

/** The client id a request names: HTTP Basic (RFC 6749 §2.3.1) or the client_id parameter. */
function presentedClientId(ctx: KoaContextWithOIDC): string | undefined {
  const auth = ctx.get('authorization');
  if (/^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      return decodeURIComponent(colon === -1 ? decoded : decoded.slice(0, colon));
    } catch {
      return undefined; // malformed encoding: the provider answers invalid_client itself
    }
  }
  const param = ctx.oidc?.params?.client_id;
  return typeof param === 'string' ? param : undefined;
}

/**
 * Provider middleware limiting client authentication failures per client and per IP: a request
 * from a blocked client or IP gets 429 `slow_down` with Retry-After before it is processed;
 * every `invalid_client` answer counts against both budgets.
 */
export function createClientAuthLimits(limits: RateLimits) {
  return async function clientAuthLimits(ctx: KoaContextWithOIDC, next: Next) {
    if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path)) return next();
    const headerClient = presentedClientId(ctx);
    const waits = await Promise.all([
      limits.retryAfter('clientAuthPerIp', ctx.ip),
      headerClient ? limits.retryAfter('clientAuthPerClient', headerClient) : 0,
    ]);
    const wait = Math.max(...waits);
    if (wait > 0) {
      ctx.status = 429;
      ctx.set('retry-after', String(wait));
      ctx.set('cache-control', 'no-store');
      ctx.body = {
        error: 'slow_down',
        error_description: `too many failed client authentications; retry after ${wait} seconds`,
      };
      return;
    }
    await next();
    if ((ctx.body as { error?: string } | undefined)?.error === 'invalid_client') {
      const clientId = presentedClientId(ctx);
      await Promise.all([
        limits.recordFailure('clientAuthPerIp', ctx.ip),
        clientId ? limits.recordFailure('clientAuthPerClient', clientId) : undefined,
      ]);
    }
  };
}
