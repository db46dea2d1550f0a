import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { createRedisStore } from '../../src/storage/redis-store.js';
import { describeStoreContract } from './store-contract.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});

describeStoreContract('redis', async () => {
  const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
  return createRedisStore(config, config.redisConnection!, pino({ level: 'silent' }));
});

describe('createRedisStore start-up checks', () => {
  it('warns when the server would evict keys', async () => {
    const evicting = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const config = loadConfig({ env: { REDIS_URL: evicting.url, NODE_ENV: 'test' } });
    const store = await createRedisStore(config, config.redisConnection!, logger);
    await store.close();
    await evicting.destroy();
    const warning = lines
      .map((l) => JSON.parse(l) as { level: number; policy?: string; msg: string })
      .find((l) => l.policy);
    expect(warning).toMatchObject({ level: 40, policy: 'allkeys-lru' });
    expect(warning!.msg).toContain('noeviction');
  });

  it('fails fast with a clear error when Redis is unreachable at start-up', async () => {
    const config = loadConfig({ env: { REDIS_URL: 'redis://127.0.0.1:1', NODE_ENV: 'test' } });
    const started = Date.now();
    await expect(
      createRedisStore(config, config.redisConnection!, pino({ level: 'silent' })),
    ).rejects.toMatchObject({
      error: 'temporarily_unavailable',
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('the per-account session index on Redis', () => {
  it('expires with the longest-lived session it holds, and never outlives it', async () => {
    const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
    const store = await createRedisStore(config, config.redisConnection!, pino({ level: 'silent' }));
    const client = new Redis(redis.url);
    try {
      const key = `${config.redis.keyPrefix}accountSessions:ttl-account`;
      await store.adapter('Session').upsert('s-short', { accountId: 'ttl-account' }, 60);
      expect(await client.ttl(key)).toBeGreaterThan(50);
      expect(await client.ttl(key)).toBeLessThanOrEqual(60);
      await store.adapter('Session').upsert('s-long', { accountId: 'ttl-account' }, 600);
      expect(await client.ttl(key)).toBeGreaterThan(590);
      await store.adapter('Session').upsert('s-short', { accountId: 'ttl-account' }, 60);
      expect(await client.ttl(key)).toBeGreaterThan(590);
    } finally {
      client.disconnect();
      await store.close();
    }
  });
});

describe('the grant index on Redis', () => {
  it('expires a new grant set with its longest-lived member, and keeps one without expiry persistent', async () => {
    const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
    const store = await createRedisStore(config, config.redisConnection!, pino({ level: 'silent' }));
    const client = new Redis(redis.url);
    try {
      const key = `${config.redis.keyPrefix}grant:ttl-grant`;
      await store.adapter('AccessToken').upsert('at-1', { grantId: 'ttl-grant' }, 60);
      expect(await client.ttl(key)).toBeGreaterThan(50);
      expect(await client.ttl(key)).toBeLessThanOrEqual(60);
      await store.adapter('RefreshToken').upsert('rt-1', { grantId: 'ttl-grant' }, 600);
      expect(await client.ttl(key)).toBeGreaterThan(590);
      await store.adapter('AccessToken').upsert('at-2', { grantId: 'ttl-grant' }, 30);
      expect(await client.ttl(key)).toBeGreaterThan(590);
      await store.adapter('AccessToken').upsert('at-forever', { grantId: 'ttl-grant-forever' }, 0);
      expect(await client.ttl(`${config.redis.keyPrefix}grant:ttl-grant-forever`)).toBe(-1);
    } finally {
      client.disconnect();
      await store.close();
    }
  });
});
