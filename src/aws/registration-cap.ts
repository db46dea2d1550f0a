import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Store } from '../storage/store.js';

/**
 * The global cap on RegisterClient: at most `perHour` registrations per hour from all callers
 * together, counted in the store so every instance shares one budget. With unused registrations
 * deleted after `aws.unusedRegistrationLifetimeSeconds`, this bounds how many registrations
 * nobody used the store can hold, whatever number of addresses an attacker has.
 */
export function createRegistrationCap(store: Store, perHour: number) {
  const limiter = store.createRateLimiter({ keyPrefix: 'awsRegistrations', points: perHour, duration: 3600 });
  return {
    /** Counts one registration; returns 0, or the seconds until the budget has room again. */
    async take(): Promise<number> {
      try {
        await limiter.consume('all');
        return 0;
      } catch (err) {
        if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw err; // the store could not answer: a 503-style error, not a refusal
      }
    },
  };
}

export type RegistrationCap = ReturnType<typeof createRegistrationCap>;
