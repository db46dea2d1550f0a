import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import type { Store } from './store.js';
import { storeKeyPrefix } from './store-mode.js';

/**
 * Opens the configured store: Redis when REDIS_URL is set, else the embedded memory store. In
 * test mode the Redis keys live under their own namespace (see store-mode.ts).
 */
export async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.redisConnection) {
    const keyPrefix = storeKeyPrefix(config);
    const store = await createRedisStore(
      { ...config, redis: { ...config.redis, keyPrefix } },
      config.redisConnection,
      logger,
    );
    logger.debug({ mode: config.redisConnection.mode }, 'using the Redis store');
    return store;
  }
  logger.debug('using the in-memory store');
  return createMemoryStore();
}
