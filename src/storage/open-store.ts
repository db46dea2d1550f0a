import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load-config.js';
import { createMemoryStore } from './memory-store.js';
import type { Store } from './store.js';

/** Opens the configured store: the embedded memory store unless REDIS_URL is set. */
export async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.redisUrl) {
    throw new ConfigError(
      'REDIS_URL: the Redis store is not available in this build yet; unset REDIS_URL to use the in-memory store',
    );
  }
  logger.debug('using the in-memory store');
  return createMemoryStore();
}
