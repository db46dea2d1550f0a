import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { BLOCKS_RESYNC_MS } from '../../src/storage/redis-blocks.js';
import { createRedisStore } from '../../src/storage/redis-store.js';
import type { Store } from '../../src/storage/store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/** Polls `check` every 10 ms until it is true; resolves how long that took, or -1 after `ms`. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started <= ms) {
    if (check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  return -1;
}

describe('blocks shared by two instances on one Redis (Store.blocks)', () => {
  let redis: RedisServer;
  let admin: Redis;
  let a: Store;
  let b: Store;
  const open = async () => {
    const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
    return createRedisStore(config, config.redisConnection!, pino({ level: 'silent' }));
  };
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    a = await open();
    b = await open();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    admin?.disconnect();
    await redis?.destroy();
  });

  it('answers from the view once in sync, and a block made on one reaches the other by pub/sub', async () => {
    expect(await b.blocks.whenSynced()).toBe(true);
    expect(b.blocks.blockedUntil('test:pubsub')).toBe(0);
    const until = Date.now() + 60_000;
    await a.blocks.block('test:pubsub', until);
    expect(a.blocks.blockedUntil('test:pubsub')).toBe(until);
    // Pub/sub, not the periodic re-read: well inside one re-read interval.
    const took = await within(BLOCKS_RESYNC_MS / 2, () => b.blocks.blockedUntil('test:pubsub') === until);
    expect(took).toBeGreaterThanOrEqual(0);
  });

  it('lifts a block everywhere on unblock, and forgets one that has expired', async () => {
    await a.blocks.block('test:lift', Date.now() + 60_000);
    expect(await within(1000, () => (b.blocks.blockedUntil('test:lift') ?? 0) > 0)).toBeGreaterThanOrEqual(0);
    await a.blocks.unblock('test:lift');
    expect(await within(1000, () => b.blocks.blockedUntil('test:lift') === 0)).toBeGreaterThanOrEqual(0);
    await a.blocks.block('test:short', Date.now() + 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.blocks.blockedUntil('test:short')).toBe(0);
    expect(b.blocks.blockedUntil('test:short')).toBe(0);
  });

  it('sees a block whose message was lost within one re-read interval', async () => {
    // What a lost PUBLISH leaves behind: the block is in the set, nobody was told.
    const until = Date.now() + 60_000;
    await admin.zadd('gatehouse:blocks', until, 'test:lost');
    const took = await within(BLOCKS_RESYNC_MS * 2, () => b.blocks.blockedUntil('test:lost') === until);
    expect(took).toBeGreaterThanOrEqual(0);
  });

  it('falls out of sync when the subscription is lost (callers then read the counters), and resyncs', async () => {
    // A password makes the subscriber's reconnection fail; the established connections keep working.
    await admin.config('SET', 'requirepass', 'locked-out');
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      expect(
        await within(1000, () => b.blocks.blockedUntil('test:any') === undefined),
      ).toBeGreaterThanOrEqual(0);
      // A block made meanwhile is published to nobody.
      const until = Date.now() + 60_000;
      await a.blocks.block('test:while-down', until);
      await new Promise((r) => setTimeout(r, BLOCKS_RESYNC_MS * 1.5));
      expect(b.blocks.blockedUntil('test:while-down')).toBeUndefined();
      expect(await b.blocks.whenSynced()).toBe(false);
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
    expect(
      await within(5000, () => b.blocks.blockedUntil('test:while-down') !== undefined),
    ).toBeGreaterThanOrEqual(0);
    expect(b.blocks.blockedUntil('test:while-down')).toBeGreaterThan(Date.now());
  });

  it('keeps blocks apart between key prefixes (test mode has its own)', async () => {
    const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
    const other = await createRedisStore(
      { ...config, redis: { ...config.redis, keyPrefix: 'other:' } },
      config.redisConnection!,
      pino({ level: 'silent' }),
    );
    try {
      await a.blocks.block('test:prefix', Date.now() + 60_000);
      await new Promise((r) => setTimeout(r, 100));
      expect(other.blocks.blockedUntil('test:prefix')).toBe(0);
    } finally {
      await other.close();
    }
  });
});
