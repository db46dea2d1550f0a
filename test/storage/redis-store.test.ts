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
