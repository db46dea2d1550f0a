import { createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { ProviderRef } from '../oidc/provider-ref.js';

/** The provider's public, request-independent documents: path → oidc-provider's route name. */
const ROUTES = new Map([
  ['/.well-known/openid-configuration', 'discovery'],
  ['/jwks', 'jwks'],
]);

/** A cached answer. */
export interface MetadataEntry {
  body: Buffer;
  etag: string;
  /** Headers the provider set on the response (CORS's Access-Control-Allow-Origin aside). */
  headers: [string, string][];
  /** Whether the provider answered with CORS headers (it allows every origin on these routes). */
  cors: boolean;
  expiresAt: number;
  /** oidc-provider's route name (the metrics label). */
  route: string;
}

export interface MetadataCache {
  /** Koa middleware: answers from the cache, or lets the provider answer and keeps its answer. */
  middleware: (ctx: Context, next: Next) => Promise<void>;
  /** The fresh cached answer for `path` (a GET or HEAD), if any; the listener in front of Koa uses it. */
  hit(path: string): MetadataEntry | undefined;
}

/**
 * Serves discovery and /jwks from a cache of the provider's own answers, with a strong `ETag`
 * and `304 Not Modified` for a matching `If-None-Match` (RFC 9110 §13.1.2). A miss lets the
 * request through to the provider and keeps its 200 answer, byte for byte, with the headers it
 * set. An entry lives `ttlMs` at most and belongs to the provider instance that produced it: the
 * provider is replaced when the signing keys in effect change (key rotation), and the next request
 * asks the new one, so /jwks follows the keys exactly as it would without the cache.
 *
 * The answers do not depend on the request: issuer pinning (http/pin-issuer.ts) runs after this
 * middleware, so a miss is answered by the provider with the issuer's host whatever the request's
 * Host, and a hit repeats that answer.
 */
export function createMetadataCache(providers: ProviderRef, options: { ttlMs?: number } = {}): MetadataCache {
  const ttlMs = options.ttlMs ?? 10_000;
  let cachedFor: ProviderRef['current'] | undefined;
  let entries = new Map<string, MetadataEntry>();

  /** The entries of the current provider (a replaced provider's entries are dropped). */
  const current = () => {
    const provider = providers.current;
    if (cachedFor !== provider) {
      cachedFor = provider;
      entries = new Map();
    }
    return provider;
  };
  const hit = (path: string) => {
    current();
    const cached = entries.get(path);
    return cached && cached.expiresAt > Date.now() ? cached : undefined;
  };

  async function middleware(ctx: Context, next: Next) {
    const route = ROUTES.get(ctx.path);
    if (!route || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    // The route label metrics use for this request (the provider sets it when it answers).
    (ctx as { _matchedRoute?: string })._matchedRoute = route;
    const cached = hit(ctx.path);
    if (cached) {
      replay(ctx, cached);
      return;
    }
    const provider = current();

    const before = new Map(Object.entries(ctx.response.headers));
    await next();
    const body: unknown = ctx.body;
    if (ctx.status !== 200 || !body || typeof body !== 'object' || Buffer.isBuffer(body)) return;
    const bytes = Buffer.from(JSON.stringify(body));
    const headers: [string, string][] = [];
    let cors = false;
    for (const [name, value] of Object.entries(ctx.response.headers)) {
      if (before.get(name) === value || value === undefined) continue;
      if (name === 'access-control-allow-origin') cors = true;
      else if (name !== 'content-length') headers.push([name, String(value)]);
    }
    const entry: MetadataEntry = {
      body: bytes,
      etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`,
      headers,
      cors,
      expiresAt: Date.now() + ttlMs,
      route,
    };
    if (providers.current === provider) entries.set(ctx.path, entry);
    ctx.set('etag', entry.etag);
    if (notModified(ctx, entry.etag)) {
      ctx.status = 304;
      ctx.body = null;
    } else {
      ctx.body = bytes;
    }
  }
  return { middleware, hit };
}

function replay(ctx: Context, entry: MetadataEntry) {
  for (const [name, value] of entry.headers) {
    if (name === 'vary') ctx.vary(value);
    else ctx.set(name, value);
  }
  // What oidc-provider's CORS middleware does on these routes: allow the requesting origin, or any.
  if (entry.cors) ctx.set('access-control-allow-origin', ctx.get('origin') || '*');
  ctx.set('etag', entry.etag);
  if (notModified(ctx, entry.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.status = 200;
  ctx.body = entry.body;
}

function notModified(ctx: Context, etag: string): boolean {
  return matchesIfNoneMatch(ctx.get('if-none-match'), etag);
}

/** If-None-Match: `*` or a list of entity tags, compared weakly (RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
