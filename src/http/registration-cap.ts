import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Store } from '../storage/store.js';

/**
 * A global cap on client registrations: at most `perHour` per hour from all callers together,
 * counted in the store under `keyPrefix` so every instance shares one budget. Used by the AWS
 * API's RegisterClient (`awsRegistrations`, with unused registrations deleted after
 * `aws.unusedRegistrationLifetimeSeconds`) and by RFC 7591 registration at /register
 * (`registrations`): it bounds how fast the store can be filled, whatever number of addresses
 * an attacker has.
 */
export function createRegistrationCap(store: Store, perHour: number, keyPrefix = 'awsRegistrations') {
  const limiter = store.createRateLimiter({ keyPrefix, points: perHour, duration: 3600 });
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
    /** Gives back a registration counted by `take` that was not stored after all. */
    async giveBack(): Promise<void> {
      await limiter.reward('all', 1);
    },
  };
}

export type RegistrationCap = ReturnType<typeof createRegistrationCap>;
