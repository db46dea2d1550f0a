import { AsyncLocalStorage } from 'node:async_hooks';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../http/metrics.js';
import { isSpecialUseIP } from './internals.js';

/** What became of one logout token (the `result` label of gatehouse_backchannel_logout_total). */
export type DeliveryResult = 'delivered' | 'failed' | 'timeout';

export interface BackchannelLogout {
  /**
   * oidc-provider's `fetch`. A logout token delivery gets `backchannelLogout.timeoutMs` instead
   * of the library's 2.5 s and, only with `allowPrivateHosts` (never in production), may
   * reach loopback and private addresses; every other request (and every delivery by default)
   * goes out exactly as oidc-provider prepared it, through its SSRF-refusing dispatcher.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Delivers in the background (the logout pages never wait); the outcome is counted and logged. */
  schedule(client: { clientId: string }, send: () => Promise<void>): void;
  /** Delivers now and resolves with the outcome (never rejects); counted and logged the same way. */
  deliver(client: { clientId: string }, send: () => Promise<void>): Promise<DeliveryResult>;
  /** Resolves once every delivery started so far has finished (each is bounded by timeoutMs). */
  drain(): Promise<void>;
  /** Why this `backchannel_logout_uri` is refused under the configured policy, if it is. */
  uriProblem(uri: unknown): string | undefined;
}

/**
 * Delivery of OpenID Connect Back-Channel Logout 1.0 logout tokens. oidc-provider builds, signs
 * and POSTs each token (features.backchannelLogout, Client#backchannelLogout); this module
 * decides when that happens (in the background for the logout pages, see internals.ts
 * sendBackchannelLogoutsInBackground), how long it may take, where it may go, and records the
 * outcome: a `gatehouse_backchannel_logout_total{result}` count and, for failures, a warning
 * naming the client and the reason (never the token).
 *
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
export function createBackchannelLogout(deps: {
  config: Pick<Config, 'backchannelLogout'>;
  logger: Logger;
  metrics?: Metrics;
}): BackchannelLogout {
  const { timeoutMs, allowPrivateHosts } = deps.config.backchannelLogout;
  const delivering = new AsyncLocalStorage<true>();
  const inFlight = new Set<Promise<unknown>>();

  async function deliver(client: { clientId: string }, send: () => Promise<void>): Promise<DeliveryResult> {
    let result: DeliveryResult;
    try {
      await delivering.run(true, send);
      result = 'delivered';
    } catch (err) {
      result = isTimeout(err) ? 'timeout' : 'failed';
      deps.logger.warn(
        { event: 'backchannel_logout.failed', clientId: client.clientId, result, reason: describe(err) },
        'logout token delivery failed',
      );
    }
    deps.metrics?.backchannelLogouts.inc({ result });
    return result;
  }

  return {
    fetch(input, init = {}) {
      if (!delivering.getStore()) return globalThis.fetch(input, init);
      const options: RequestInit & { dispatcher?: unknown } = {
        ...init,
        signal: AbortSignal.timeout(timeoutMs),
      };
      if (allowPrivateHosts) delete options.dispatcher;
      return globalThis.fetch(input, options);
    },
    schedule(client, send) {
      const running = deliver(client, send);
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
    },
    deliver,
    async drain() {
      await Promise.all([...inFlight]);
    },
    uriProblem(uri) {
      if (allowPrivateHosts || typeof uri !== 'string') return undefined;
      let host: string;
      try {
        host = unmapIPv4(
          new URL(uri).hostname
            .replace(/^\[|\]$/g, '')
            .replace(/\.$/, '')
            .toLowerCase(),
        );
      } catch {
        return undefined; // oidc-provider refuses an unparsable URI itself, in its own words
      }
      const privateHost =
        host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isSpecialUseIP(host));
      return privateHost
        ? 'backchannel_logout_uri must not point at a loopback, private or other special-use address'
        : undefined;
    },
  };
}

/** `::ffff:7f00:1` (how URL writes `[::ffff:127.0.0.1]`) as `127.0.0.1`; other hosts unchanged. */
function unmapIPv4(host: string): string {
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } };
  return e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError';
}

/** The reason, without the request: oidc-provider's errors name the URI and status, never the token. */
function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.message ?? e?.cause?.code;
  return [e?.message ?? String(err), cause].filter(Boolean).join(': ');
}
