import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PATHS = ['/.well-known/openid-configuration', '/jwks'];

async function serve(listener: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Status, body and headers, without those that differ from one answer to the next. */
async function answer(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const headers = Object.fromEntries(
    [...res.headers].filter(([name]) => name !== 'date' && name !== 'x-request-id'),
  );
  return { status: res.status, body: await res.text(), headers };
}

describe('GET /.well-known/openid-configuration and /jwks in front of Koa', () => {
  let gh: RunningGatehouse;
  // The same app's Koa callback alone, for comparison: it answers from the same cache.
  let koaOnly: { server: Server; url: string };
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { METRICS_TOKEN } });
    koaOnly = await serve(gh.app.callback());
    for (const path of PATHS) await fetch(`${gh.url}${path}`); // fills the cache
  });
  afterAll(async () => {
    koaOnly?.server.close();
    await gh?.stop();
  });

  it('answers a cache hit with the bytes and headers the Koa app sends for it', async () => {
    for (const path of PATHS) {
      const { headers } = await answer(`${gh.url}${path}`);
      const variants: RequestInit[] = [
        {},
        { headers: { origin: 'https://rp.example.com' } },
        { method: 'HEAD' },
        { method: 'HEAD', headers: { 'if-none-match': headers.etag! } },
        { headers: { 'if-none-match': headers.etag!, origin: 'https://rp.example.com' } },
        { headers: { 'if-none-match': '"another"' } },
      ];
      for (const init of variants) {
        const fast = await answer(`${gh.url}${path}?probe=1`, init);
        expect(fast).toEqual(await answer(`${koaOnly.url}${path}?probe=1`, init));
      }
      expect(headers).toMatchObject({
        'content-security-policy': expect.stringContaining("default-src 'none'"),
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        vary: 'Origin',
        'access-control-allow-origin': '*',
        etag: expect.stringMatching(/^"[\w-]{27}"$/),
      });
    }
  });

  it('answers hits without running the Koa middleware, and hands everything else to it', async () => {
    let reachedKoa = 0;
    gh.app.middleware.unshift((_ctx, next) => {
      reachedKoa += 1;
      return next();
    });
    const counted = await serve(gh.callback());
    try {
      for (const path of PATHS) {
        await fetch(`${counted.url}${path}`);
        const before = reachedKoa;
        for (let i = 0; i < 5; i += 1) expect((await fetch(`${counted.url}${path}`)).status).toBe(200);
        expect(reachedKoa).toBe(before);
      }
      const before = reachedKoa;
      expect((await fetch(`${counted.url}/jwks`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${counted.url}/.well-known/webfinger`)).status).toBe(404);
      expect(reachedKoa).toBe(before + 2);
    } finally {
      gh.app.middleware.shift();
      counted.server.close();
    }
  });

  it('answers 304 to a matching If-None-Match (a list, a weak tag, *) and 200 to another', async () => {
    const etag = (await fetch(`${gh.url}/jwks`)).headers.get('etag')!;
    for (const match of [etag, `W/${etag}`, `"x", ${etag}`, '*']) {
      const res = await fetch(`${gh.url}/jwks`, { headers: { 'if-none-match': match } });
      expect(res.status).toBe(304);
      expect(await res.text()).toBe('');
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('content-type')).toBeNull();
    }
    const other = await fetch(`${gh.url}/jwks`, { headers: { 'if-none-match': '"not-it"' } });
    expect(other.status).toBe(200);
    expect(((await other.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await fetch(`${gh.url}/.well-known/openid-configuration`);
    const body = await get.text();
    const head = await fetch(`${gh.url}/.well-known/openid-configuration`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    expect(await head.text()).toBe('');
  });

  it('counts hits in the request metrics under the route name', async () => {
    const count = async () => {
      const text = await (
        await fetch(`${gh.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      ).text();
      const line = /gatehouse_http_requests_total\{route="jwks",method="GET",status="200"[^}]*\} (\d+)/.exec(
        text,
      );
      return Number(line?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i += 1) await fetch(`${gh.url}/jwks`);
    expect(await count()).toBe(before + 3);
  });
});
