import type { Logger } from 'pino';
import { UnacknowledgedWriteError } from './store-unavailable.js';

/**
 * What Gatehouse last learned about replica acknowledgement, per Redis master ("target": the
 * master of a Sentinel set, or one Cluster shard's master). A master that acknowledged fewer
 * replicas than required opens an episode: one `warn` when it starts, one `info` when a later
 * write or probe is acknowledged again, never a line per request.
 *
 * While an episode is recent (`retryAfterMs`), single-use writes to that master fail at once
 * without being tried: the request answers 503 without spending the code, so the client's retry
 * succeeds once replicas are back, and no request waits out the full acknowledgement timeout.
 * After that, the next write is tried again and serves as the probe.
 */
export function createAckEpisodes(deps: { required: number; retryAfterMs: number; logger: Logger }) {
  const { required, retryAfterMs, logger } = deps;
  const short = new Map<string, { acked: number; at: number }>();
  const reason = (acked: number) => `redis: ${acked} of ${required} required replicas acknowledged`;

  return {
    /** Throws UnacknowledgedWriteError when `target` was short of replicas moments ago. */
    assertNotKnownShort(target: string, now = Date.now()): void {
      const known = short.get(target);
      if (known && now - known.at < retryAfterMs) {
        throw new UnacknowledgedWriteError(undefined, reason(known.acked));
      }
    },
    /** Records how many replicas acknowledged on `target`; returns the reason when too few. */
    record(target: string, acked: number, now = Date.now()): string | undefined {
      const known = short.get(target);
      if (acked >= required) {
        if (known) {
          short.delete(target);
          logger.info(
            { master: target, acknowledged: acked, required },
            'redis: replicas acknowledge single-use writes again; consumes are served',
          );
        }
        return undefined;
      }
      if (!known) {
        logger.warn(
          { master: target, acknowledged: acked, required },
          `${reason(acked)} a single-use write; consumes on this master fail closed (503) until enough replicas acknowledge (see README "Redis")`,
        );
      }
      short.set(target, { acked, at: now });
      return reason(acked);
    },
    /** Forgets masters no longer serving (a Cluster shard's old master after its failover). */
    retain(targets: ReadonlySet<string>): void {
      for (const target of short.keys()) {
        if (targets.has(target)) continue;
        short.delete(target);
        logger.info({ master: target }, 'redis: a master short of replicas is no longer a master');
      }
    },
    /** Why the store is not ready, for /readyz; empty when every known master is acknowledged. */
    shortReasons(): string[] {
      return [...new Set([...short.values()].map((s) => reason(s.acked)))];
    },
  };
}

export type AckEpisodes = ReturnType<typeof createAckEpisodes>;
