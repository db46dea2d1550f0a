import type { Config, RateLimitName } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { Metrics } from './metrics.js';

/** A budget and the key it is counted under, e.g. `['loginPerIp', '192.0.2.1']`. */
export type Budget = readonly [name: RateLimitName, key: string];

/**
 * The key of a budget over several values, e.g. (username, client IP). Each part is
 * percent-encoded, so `:` only ever separates parts: a username containing `:` (or an IPv6
 * address) can never make two different pairs share a key.
 */
export function budgetKey(...parts: string[]): string {
  return parts.map((part) => encodeURIComponent(part)).join(':');
}

/**
 * Failure budgets with growing back-off (rate-limiter-flexible, counters in the store so every
 * instance shares them). A key may fail `points` times per window; the failure that uses the
 * budget up blocks it for `blockSeconds`, and each further block within a day doubles that, up
 * to `maxBlockSeconds`. Budgets keyed on a client IP block hard; those across every address
 * only slow attempts down, by their settings (short blocks): see RATE_LIMIT_NAMES and the
 * README's "Rate limits".
 */
export function createRateLimits(deps: { store: Store; config: Config; metrics?: Metrics }) {
  const { store, config, metrics } = deps;
  const limits = new Map(
    (Object.keys(config.rateLimits) as RateLimitName[]).map((name) => {
      const settings = config.rateLimits[name];
      return [
        name,
        {
          settings,
          failures: store.createRateLimiter({
            keyPrefix: name,
            points: settings.points,
            duration: settings.windowSeconds,
          }),
          strikes: store.createRateLimiter({ keyPrefix: `${name}-strikes`, points: 64, duration: 86_400 }),
        },
      ] as const;
    }),
  );
  const get = (name: RateLimitName) => limits.get(name)!;

  return {
    /** Seconds until `key` may try again, or 0 when it is not blocked. */
    async retryAfter(name: RateLimitName, key: string): Promise<number> {
      // The common path: this process's view of the blocks, no round trip (Store.blocks).
      const until = store.blocks.blockedUntil(`${name}:${key}`);
      let ms: number;
      if (until !== undefined) {
        ms = until - Date.now();
      } else {
        // The view may have missed a block: the counters in the store are the truth.
        const state = await get(name).failures.get(key);
        ms = state && state.consumedPoints >= get(name).settings.points ? state.msBeforeNext : 0;
      }
      if (ms <= 0) return 0;
      metrics?.rateLimited.inc({ limit: name });
      return Math.max(1, Math.ceil(ms / 1000));
    },
    /**
     * The longest wait among several budgets (in-process; when the view is out of sync, one GET
     * each, sent together); 0 when none is blocked.
     */
    async retryAfterAny(budgets: readonly Budget[]): Promise<number> {
      const waits = await Promise.all(budgets.map(([name, key]) => this.retryAfter(name, key)));
      return Math.max(0, ...waits);
    },
    /** Records one failure against each budget. */
    async recordFailures(budgets: readonly Budget[]): Promise<void> {
      await Promise.all(budgets.map(([name, key]) => this.recordFailure(name, key)));
    },
    /** Records a failure; blocks the key (with growing back-off) once it is over budget. */
    async recordFailure(name: RateLimitName, key: string): Promise<void> {
      const { failures, strikes, settings } = get(name);
      const state = await failures.penalty(key);
      if (state.consumedPoints < settings.points) return;
      const strike = await strikes.penalty(key);
      const seconds = Math.min(
        settings.blockSeconds * 2 ** (strike.consumedPoints - 1),
        settings.maxBlockSeconds,
      );
      await failures.block(key, seconds);
      await store.blocks.block(`${name}:${key}`, Date.now() + seconds * 1000);
    },
    /**
     * Counts a request (not only failures) against the budget, for per-IP request quotas: returns
     * the seconds to wait when the key is already over it, else counts this request and returns 0.
     */
    async consume(name: RateLimitName, key: string): Promise<number> {
      const wait = await this.retryAfter(name, key);
      if (wait === 0) await this.recordFailure(name, key);
      return wait;
    },
    /** Forgets a key's failures, e.g. after a successful sign-in. */
    async reset(name: RateLimitName, key: string): Promise<void> {
      await get(name).failures.delete(key);
      await store.blocks.unblock(`${name}:${key}`);
    },
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
