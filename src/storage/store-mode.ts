import type { Config } from '../config/schema.js';
import type { Store } from './store.js';

/** The record (`rec:mode`) naming which mode's state a store (or key namespace) holds. */
export const MODE_RECORD = 'mode';

/** The namespace test mode appends to `redis.keyPrefix`, so it never shares keys with standard mode. */
export const TEST_MODE_NAMESPACE = 'test-mode:';

/**
 * The Redis key prefix this configuration uses: `redis.keyPrefix`, followed in test mode by
 * `test-mode:`. Test mode then never reads, writes or deletes a standard-mode key, and the tokens
 * it mints are unknown to standard-mode instances sharing the Redis.
 */
export function storeKeyPrefix(config: Pick<Config, 'mode' | 'redis'>): string {
  return config.mode === 'test' ? `${config.redis.keyPrefix}${TEST_MODE_NAMESPACE}` : config.redis.keyPrefix;
}

/**
 * Marks the store as holding `mode`'s state (`rec:mode`, never expiring), or says why it may not:
 * it is marked for the other mode, or (test mode) it already holds unmarked state, which would be
 * a standard-mode deployment's under a colliding prefix. Returns the problem, or undefined.
 */
export async function claimStoreMode(store: Store, mode: Config['mode']): Promise<string | undefined> {
  let marked = await store.getRecord<string>(MODE_RECORD);
  if (marked === undefined && mode === 'test') {
    const unmarked = (await store.listKeys('')).filter((key) => key !== `rec:${MODE_RECORD}`);
    // Keys may be a test-mode instance's that marked the store since we looked: look again.
    marked = unmarked.length ? await store.getRecord<string>(MODE_RECORD) : undefined;
    if (unmarked.length && marked === undefined) {
      return `the store already holds ${unmarked.length} keys not created by test mode (e.g. "${unmarked[0]}"): test mode refuses to run where it could read or reset another deployment's state (use another redis.keyPrefix or database)`;
    }
  }
  if (marked === undefined) {
    // Two instances starting at once: whichever marks first decides, the other compares.
    if (!(await store.setRecordIfAbsent(MODE_RECORD, mode))) {
      marked = await store.getRecord<string>(MODE_RECORD);
    } else {
      marked = mode;
    }
  }
  if (marked !== mode) {
    return `the store holds ${String(marked)}-mode state (record rec:${MODE_RECORD}); refusing to start in ${mode} mode on it`;
  }
  return undefined;
}
