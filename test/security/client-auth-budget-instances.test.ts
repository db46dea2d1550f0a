import { Redis } from 'ioredis';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { BLOCKS_RESYNC_MS } from '../../src/storage/redis-blocks.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basicAuth } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: client authentication across instances. The failure budgets stop secret
 * guessing; each instance answers "is it blocked?" from its own view of the blocks, kept
 * current by Redis pub/sub and a re-read every BLOCKS_RESYNC_MS. A guesser must gain nothing by
 * spreading attempts over instances, by a lost message, or by a lost subscription.
 */
const POINTS = 3;
const WEB = TEST_CLIENTS.web;
/** The documented bound (README "Rate limits") plus slack for a loaded test machine. */
const BOUND_MS = BLOCKS_RESYNC_MS + 1000;

describe('the client authentication failure budget across two instances on one Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  const start = () =>
    startTestGatehouse({
      env: { TRUST_PROXY: '1', REDIS_URL: redis.url },
      overrides: {
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          clientAuthPerClientAndIp: {
            points: POINTS,
            windowSeconds: 60,
            blockSeconds: 60,
            maxBlockSeconds: 60,
          },
        },
      },
    });
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    a = await start();
    b = await start();
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    admin?.disconnect();
    await redis?.destroy();
  });

  /** A code redemption at `gh` from `ip` authenticating as WEB with `secret` (the code is made up). */
  const attempt = (gh: RunningGatehouse, ip: string, secret: string) =>
    fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': ip,
        authorization: basicAuth(WEB.client_id, secret),
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'not-a-real-code',
        redirect_uri: WEB.redirect_uris[0]!,
      }).toString(),
    });
  const answer = async (res: Promise<Response>) => {
    const r = await res;
    return { status: r.status, error: ((await r.json()) as { error: string }).error };
  };
  /** Polls with the right secret until `gh` refuses it; how long that took, or -1 past the bound. */
  async function refusedWithin(gh: RunningGatehouse, ip: string): Promise<number> {
    const started = Date.now();
    while (Date.now() - started <= BOUND_MS) {
      if ((await answer(attempt(gh, ip, WEB.client_secret))).status === 429) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 20));
    }
    return -1;
  }

  it('blocks a guesser who alternates between the instances after the budget, on both', async () => {
    const ip = '203.0.113.10';
    const instances = [a, b, a];
    for (const gh of instances) {
      expect(await answer(attempt(gh, ip, 'guess'))).toEqual({ status: 401, error: 'invalid_client' });
    }
    // The third failure, on a, blocked the key: b refuses even the right secret, within the bound.
    expect(await answer(attempt(a, ip, WEB.client_secret))).toEqual({ status: 429, error: 'slow_down' });
    expect(await refusedWithin(b, ip)).toBeGreaterThanOrEqual(0);
    // The rightful client from elsewhere is untouched (only its made-up code is wrong).
    expect(await answer(attempt(b, '198.51.100.10', WEB.client_secret))).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
  });

  it('keeps a block whose pub/sub message was lost: the re-read finds it', async () => {
    const ip = '203.0.113.11';
    // What a lost message leaves: Redis knows the block (counters and set), no instance was told.
    const key = `clientAuthPerClientAndIp:${encodeURIComponent(WEB.client_id)}:${encodeURIComponent(ip)}`;
    const until = Date.now() + 60_000;
    await admin.zadd('gatehouse:blocks', until, key);
    expect(await refusedWithin(a, ip)).toBeGreaterThanOrEqual(0);
    expect(await refusedWithin(b, ip)).toBeGreaterThanOrEqual(0);
  });

  it('fails safe when the subscription is lost: blocks made meanwhile refuse at once, from the counters', async () => {
    const ip = '203.0.113.12';
    // A password keeps the subscribers from reconnecting; established connections keep working.
    await admin.config('SET', 'requirepass', 'subscribers-locked-out');
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < POINTS; i += 1) {
        expect(await answer(attempt(a, ip, 'guess'))).toEqual({ status: 401, error: 'invalid_client' });
      }
      // Nobody heard the block; b reads the counters instead of trusting its view.
      expect(await answer(attempt(b, ip, WEB.client_secret))).toEqual({ status: 429, error: 'slow_down' });
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
    // Back in sync (and after a re-read) the block still holds on both.
    await new Promise((r) => setTimeout(r, BOUND_MS));
    expect(await answer(attempt(a, ip, WEB.client_secret))).toEqual({ status: 429, error: 'slow_down' });
    expect(await answer(attempt(b, ip, WEB.client_secret))).toEqual({ status: 429, error: 'slow_down' });
  });

  it('lets nothing an attacker can send lift a block: not a success elsewhere, not a new instance', async () => {
    const ip = '203.0.113.13';
    for (let i = 0; i < POINTS; i += 1) await attempt(b, ip, 'guess');
    expect(await refusedWithin(a, ip)).toBeGreaterThanOrEqual(0);
    // The right secret from another address succeeds at authentication (the code is made up)…
    expect((await answer(attempt(a, '198.51.100.13', WEB.client_secret))).error).toBe('invalid_grant');
    // …and lifts nothing for the blocked address, on either instance.
    expect((await answer(attempt(a, ip, WEB.client_secret))).status).toBe(429);
    expect((await answer(attempt(b, ip, WEB.client_secret))).status).toBe(429);
    // An instance started after the block knows it from its first request.
    const c = await start();
    try {
      expect(await answer(attempt(c, ip, WEB.client_secret))).toEqual({ status: 429, error: 'slow_down' });
    } finally {
      await c.stop();
    }
  });
});
