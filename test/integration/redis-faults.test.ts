import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { basicAuth, obtainCode, redeemCode, refresh } from '../support/flows.js';

const SERVICE = TEST_CLIENTS.service;

async function clientCredentials(base: string) {
  const started = Date.now();
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(SERVICE.client_id, SERVICE.client_secret),
    },
    body: 'grant_type=client_credentials&scope=api%3Aread',
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: Date.now() - started };
}

async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}

describe('Redis outage: fail closed, recover without a restart', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: true });
    gh = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  it('answers 503 temporarily_unavailable with Retry-After within two seconds, then serves again', async () => {
    expect((await clientCredentials(gh.issuer)).status).toBe(200);
    await redis.stop();

    const down = await eventually(
      () => clientCredentials(gh.issuer),
      (r) => r.status === 503,
      2000,
    );
    expect(down.status).toBe(503);
    expect(down.ms).toBeLessThan(2000);
    expect(JSON.parse(down.text)).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable; try again shortly',
    });
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.text).not.toMatch(/\bat \S+:\d+/);

    const ready = await fetch(`${gh.issuer}/readyz`);
    expect(ready.status).toBe(503);
    expect((await fetch(`${gh.issuer}/healthz`)).status).toBe(200);

    const page = await fetch(
      `${gh.issuer}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(TEST_CLIENTS.web.redirect_uris[0])}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
      { headers: { accept: 'text/html' }, redirect: 'manual' },
    );
    expect(page.status).toBe(503);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('temporarily unavailable');

    await redis.start();
    const back = await eventually(
      () => clientCredentials(gh.issuer),
      (r) => r.status === 200,
      5000,
    );
    expect(back.status).toBe(200);
    expect((await fetch(`${gh.issuer}/readyz`)).status).toBe(200);
  });

  it('keeps refresh tokens valid and consumed codes consumed across a Redis restart (AOF)', async () => {
    const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
    const tokens = await redeemCode(gh.issuer, code, verifier);
    expect(tokens.status).toBe(200);

    await redis.stop();
    await redis.start();
    await eventually(
      () => clientCredentials(gh.issuer),
      (r) => r.status === 200,
      5000,
    );

    const replay = await redeemCode(gh.issuer, code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    // The replay revoked the grant (RFC 6749 §4.1.2), so use a second grant for the refresh check.
    const second = await obtainCode(gh.issuer, { offline: true });
    const secondTokens = await redeemCode(gh.issuer, second.code, second.verifier);
    await redis.stop();
    await redis.start();
    await eventually(
      () => clientCredentials(gh.issuer),
      (r) => r.status === 200,
      5000,
    );
    const refreshed = await refresh(gh.issuer, secondTokens.body.refresh_token!);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(secondTokens.body.refresh_token);
  });
});

describe('two instances on one Redis', () => {
  let redis: RedisServer;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    // Start both at once: the first-start race on signing keys must still give one key set.
    a = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
    b = await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER: a.issuer } });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.destroy();
  });

  it('publishes the same JWKS', async () => {
    const [ja, jb] = await Promise.all([a.url, b.url].map((u) => fetch(`${u}/jwks`).then((r) => r.json())));
    expect(ja).toEqual(jb);
  });

  it('redeems on one instance a code obtained on the other, and refreshes on either', async () => {
    const { code, verifier } = await obtainCode(a.issuer, { offline: true });
    const tokens = await redeemCode(b.url, code, verifier);
    expect(tokens.status).toBe(200);
    const r1 = await refresh(a.url, tokens.body.refresh_token!);
    expect(r1.status).toBe(200);
    const r2 = await refresh(b.url, r1.body.refresh_token!);
    expect(r2.status).toBe(200);
    const info = await fetch(`${b.url}/userinfo`, {
      headers: { authorization: `Bearer ${r2.body.access_token}` },
    });
    expect(await info.json()).toEqual({
      sub: 'alice-0001',
      email: 'alice@example.com',
      email_verified: true,
    });
  });
});
