import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { matchesIfNoneMatch, type MetadataCache, type MetadataEntry } from './metadata-cache.js';
import { createHttpObserver, type Metrics } from './metrics.js';
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
  const observe = deps.metrics ? createHttpObserver(deps.metrics) : undefined;
  // The header lists of each cached answer, built once per entry (entries are replaced, not changed).
  const prepared = new WeakMap<MetadataEntry, Prepared>();

  return function metadataListener(req: IncomingMessage, res: ServerResponse) {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return next(req, res);
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const entry = PATHS.has(path) ? cache.hit(path) : undefined;
    if (!entry) return next(req, res);
    const logs = logger.isLevelEnabled('info');
    const started = observe || logs ? performance.now() : 0;
    let headers = prepared.get(entry);
    if (!headers) prepared.set(entry, (headers = prepare(entry, security)));
    const id = requestIdFor(req.headers['x-request-id'] as string | undefined);
    const status = send(req, res, entry, headers, id);
    if (observe) observe(entry.route, method, status, (performance.now() - started) / 1000);
    if (logs) {
      logger
        .child({ requestId: id })
        .info({ method, path, status, ms: Math.round(performance.now() - started) }, 'request');
    }
  };
}

/** Flat name/value header lists for a 200 and a 304, with slots for the request id and the origin. */
interface Prepared {
  ok: string[];
  notModified: string[];
  /** Index of the Access-Control-Allow-Origin value in each list (-1: no CORS). */
  okOriginAt: number;
  notModifiedOriginAt: number;
}

/**
 * The headers the Koa path sends for this entry, in its order: request id, security headers, the
 * provider's own (Vary, Content-Type), CORS, ETag, and for a 200 Content-Length. A 304 carries no
 * Content-Type (Koa drops it from an empty response, RFC 9110 §15.4.5).
 */
function prepare(entry: MetadataEntry, security: [string, string][]): Prepared {
  const build = (notModified: boolean) => {
    const headers: string[] = ['x-request-id', ''];
    for (const [name, value] of security) headers.push(name, value);
    for (const [name, value] of entry.headers) {
      if (notModified && name === 'content-type') continue;
      headers.push(name === 'vary' ? 'Vary' : name, value);
    }
    const originAt = entry.cors ? headers.push('access-control-allow-origin', '*') - 1 : -1;
    headers.push('etag', entry.etag);
    if (!notModified) headers.push('Content-Length', String(entry.body.length));
    return { headers, originAt };
  };
  const ok = build(false);
  const notModified = build(true);
  return {
    ok: ok.headers,
    notModified: notModified.headers,
    okOriginAt: ok.originAt,
    notModifiedOriginAt: notModified.originAt,
  };
}

/** Writes the cached answer (or its 304) in one writeHead; returns the status sent. */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  entry: MetadataEntry,
  prepared: Prepared,
  requestId: string,
): number {
  const notModified = matchesIfNoneMatch(req.headers['if-none-match'], entry.etag);
  const headers = (notModified ? prepared.notModified : prepared.ok).slice();
  headers[1] = requestId;
  // What oidc-provider's CORS middleware does on these routes: allow the requesting origin, or any.
  const originAt = notModified ? prepared.notModifiedOriginAt : prepared.okOriginAt;
  if (originAt !== -1) headers[originAt] = req.headers.origin || '*';
  if (notModified) {
    res.writeHead(304, headers).end();
    return 304;
  }
  res.writeHead(200, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(entry.body);
  return 200;
}
