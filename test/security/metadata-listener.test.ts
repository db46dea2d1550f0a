import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';

/**
 * Trust boundary: the listener that answers discovery and /jwks before Koa (and so before issuer
 * pinning, request-id checks and method refusals run). An attacker must get nothing from it that
 * the Koa app would not give: no document built from their Host, no header they chose, no cached
 * answer on a path or method the app would refuse.
 */
describe('discovery and /jwks answered in front of Koa', () => {
  let gh: RunningGatehouse;
  let koaOnly: Server;
  let koaUrl: string;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    koaOnly = createServer(gh.app.callback());
    await new Promise<void>((resolve) => koaOnly.listen(0, '127.0.0.1', resolve));
    koaUrl = `http://127.0.0.1:${(koaOnly.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    koaOnly?.close();
    await gh?.stop();
  });

  /** A GET with headers fetch would not let us set (Host). */
  function rawGet(path: string, headers: Record<string, string>) {
    return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
      (resolve, reject) => {
        const { port } = new URL(gh.url);
        const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
        });
        req.on('error', reject);
        req.end();
      },
    );
  }

  it('serves the issuer-pinned document whatever Host and X-Forwarded-* say, on a miss and on hits', async () => {
    const forged = {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'host=evil.example;proto=https',
    };
    // The first request may be the miss that fills the cache; the rest are hits.
    for (let i = 0; i < 3; i += 1) {
      const res = await rawGet('/.well-known/openid-configuration', forged);
      expect(res.status).toBe(200);
      const doc = JSON.parse(res.body) as { issuer: string; jwks_uri: string; token_endpoint: string };
      expect(doc.issuer).toBe(gh.issuer);
      expect(doc.jwks_uri).toBe(`${gh.issuer}/jwks`);
      expect(doc.token_endpoint.startsWith(gh.issuer)).toBe(true);
      expect(res.body).not.toContain('evil.example');
    }
  });

  it('echoes only a sane X-Request-Id, never one that could inject into headers or logs', async () => {
    await fetch(`${gh.url}/jwks`);
    const sane = await fetch(`${gh.url}/jwks`, { headers: { 'x-request-id': 'trace-1.2:3_4-5' } });
    expect(sane.headers.get('x-request-id')).toBe('trace-1.2:3_4-5');
    for (const bad of ['<script>alert(1)</script>', 'a b', 'x'.repeat(129), 'a;b=c']) {
      const res = await fetch(`${gh.url}/jwks`, { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Sent twice, the values arrive joined ("a, b"): not sane either.
    const twice = await fetch(`${gh.url}/jwks`, {
      headers: [
        ['x-request-id', 'a'],
        ['x-request-id', 'b'],
      ],
    });
    expect(twice.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives every other method and every path variant exactly what the Koa app gives', async () => {
    await fetch(`${gh.url}/jwks`);
    await fetch(`${gh.url}/.well-known/openid-configuration`);
    const cases: [string, string][] = [
      ['POST', '/jwks'],
      ['PUT', '/.well-known/openid-configuration'],
      ['DELETE', '/jwks'],
      ['OPTIONS', '/jwks'],
      ['GET', '/jwks/'],
      ['GET', '/JWKS'],
      ['GET', '/%6Awks'],
      ['GET', '/jwks%3F'],
      ['GET', '/.well-known/openid-configuration/'],
      ['GET', '/.well-known/openid-configuration;x'],
    ];
    for (const [method, path] of cases) {
      const init: RequestInit = {
        method,
        headers: { origin: 'https://rp.example.com', 'access-control-request-method': 'GET' },
      };
      const fast = await fetch(`${gh.url}${path}`, init);
      const koa = await fetch(`${koaUrl}${path}`, init);
      expect([method, path, fast.status]).toEqual([method, path, koa.status]);
      expect(fast.headers.get('etag')).toBe(koa.headers.get('etag'));
      expect(fast.headers.get('allow')).toBe(koa.headers.get('allow'));
    }
  });
});
