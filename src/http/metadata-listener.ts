import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { matchesIfNoneMatch, type MetadataCache, type MetadataEntry } from './metadata-cache.js';
import type { Metrics } from './metrics.js';
import { requestIdFor } from './request-id.js';
import { securityHeaderList } from './security-headers.js';

/** The paths the listener may answer, each with and without a query (Koa's ctx.path ignores it). */
const PATHS = new Set(['/.well-known/openid-configuration', '/jwks']);

export interface MetadataListenerDeps {
  cache: MetadataCache;
  /** Everything else: the Koa app's callback. */
  next: RequestListener;
  https: boolean;
  logger: Logger;
  metrics?: Metrics | undefined;
}

/**
 * The node:http request listener in front of Koa: discovery and /jwks cache hits (GET and HEAD)
 * are answered here, without building a Koa context or running the middleware chain, which is most
 * of their cost; every other request, and a miss, goes to `next` (the Koa app), which fills the
 * cache. A hit carries exactly what the Koa path sends for it: the request id (X-Request-Id), the
 * security headers, the provider's own headers (Vary, Content-Type), CORS
 * (Access-Control-Allow-Origin), the ETag, and a 304 for a matching If-None-Match; it is counted in
 * the request metrics and logged at `info` as the Koa path does. Issuer pinning is unchanged: the
 * cached answers were made by the provider with the issuer's host, whatever the request's Host.
 */
export function createMetadataListener(deps: MetadataListenerDeps): RequestListener {
  const { cache, next, logger } = deps;
  const security = securityHeaderList({ https: deps.https });
  const observe = deps.metrics ? createObserver(deps.metrics) : undefined;

  return function metadataListener(req: IncomingMessage, res: ServerResponse) {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return next(req, res);
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const entry = PATHS.has(path) ? cache.hit(path) : undefined;
    if (!entry) return next(req, res);
    const started = observe || logger.isLevelEnabled('info') ? performance.now() : 0;
    const id = requestIdFor(req.headers['x-request-id'] as string | undefined);
    const status = send(res, entry, req, id, security);
    if (observe) observe(entry.route, method, status, (performance.now() - started) / 1000);
    if (logger.isLevelEnabled('info')) {
      logger
        .child({ requestId: id })
        .info({ method, path, status, ms: Math.round(performance.now() - started) }, 'request');
    }
  };
}

/** Writes the cached answer (or its 304) in one writeHead; returns the status sent. */
function send(
  res: ServerResponse,
  entry: MetadataEntry,
  req: IncomingMessage,
  requestId: string,
  security: [string, string][],
): number {
  const notModified = matchesIfNoneMatch(req.headers['if-none-match'], entry.etag);
  const headers: string[] = ['x-request-id', requestId];
  for (const [name, value] of security) headers.push(name, value);
  for (const [name, value] of entry.headers) {
    // A 304 carries no representation headers other than those a 200 would have as metadata
    // (RFC 9110 §15.4.5): Koa drops Content-Type from it, and so does this.
    if (notModified && name === 'content-type') continue;
    headers.push(name === 'vary' ? 'Vary' : name, value);
  }
  // What oidc-provider's CORS middleware does on these routes: allow the requesting origin, or any.
  if (entry.cors) headers.push('access-control-allow-origin', req.headers.origin || '*');
  headers.push('etag', entry.etag);
  if (notModified) {
    res.writeHead(304, headers).end();
    return 304;
  }
  headers.push('Content-Length', String(entry.body.length));
  res.writeHead(200, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(entry.body);
  return 200;
}

/** Request count and duration per route, method and status; the labelled series made once each. */
function createObserver(metrics: Metrics) {
  const series = new Map<string, (seconds: number) => void>();
  return (route: string, method: string, status: number, seconds: number) => {
    const key = `${route} ${method} ${status}`;
    let observe = series.get(key);
    if (!observe) {
      const counter = metrics.httpRequests.labels(route, method, String(status));
      const histogram = metrics.httpDuration.labels(route, method, String(status));
      observe = (s) => {
        counter.inc();
        histogram.observe(s);
      };
      series.set(key, observe);
    }
    observe(seconds);
  };
}
