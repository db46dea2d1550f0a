import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * The one storage door. Every piece of state Gatehouse keeps goes through a Store: the
 * oidc-provider models (through `adapter(model)`) and Gatehouse's own small records (signing
 * keys, device polling state, rate-limit counters) through the JSON record methods.
 *
 * Implementations: memory-store.ts (the zero-setup default). Contract tests live in
 * test/storage/store-contract.ts and run unchanged against every implementation.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  /** Whether the state survives a restart of this process (and is shared between instances). */
  readonly persistent: boolean;
  /** An oidc-provider adapter for one model name ("Session", "AccessToken", …). */
  adapter(model: string): Adapter;
  getRecord<T>(key: string): Promise<T | undefined>;
  setRecord(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  /**
   * Stores the record only when the key is absent; true when this call stored it. The primitive
   * for replay caches: on Redis with `redis.consumeAckReplicas` it is acknowledged by replicas
   * like a consume (rejecting with StoreUnavailableError when too few do), so it survives a
   * failover; `consume`, `destroy` and `revokeByGrantId` of the adapters are too.
   */
  setRecordIfAbsent(key: string, value: unknown, ttlSeconds?: number): Promise<boolean>;
  deleteRecord(key: string): Promise<void>;
  /**
   * Records a poll of `key` at `now` (ms) in one atomic step and says whether it came sooner than
   * the key's interval (first poll: `intervalSeconds`) since the previous poll; a poll that did
   * grows the interval by `slowDownSeconds` (RFC 8628 §3.5 slow_down). The first `freePolls`
   * polls of a key are never too soon (the AWS API's: botocore polls twice back to back before it
   * starts waiting). Kept for `ttlSeconds`.
   */
  recordPoll(
    key: string,
    now: number,
    intervalSeconds: number,
    slowDownSeconds: number,
    ttlSeconds: number,
    freePolls?: number,
  ): Promise<{ tooSoon: boolean; interval: number }>;
  /**
   * A device_code grant's poll in one step (one round trip on Redis): reads the DeviceCode record
   * `id` and, when the grant would answer it `authorization_pending` for `poll.clientId` (present,
   * not consumed, neither approved nor denied, not expired), records the poll under `poll.key` as
   * recordPoll does, returning its result; undefined when no poll was recorded. The record read is
   * what this process's next `adapter('DeviceCode').find(id)` returns (within a second), so the
   * grant does not read it again.
   */
  pollDeviceCode(
    id: string,
    poll: DeviceCodePoll,
  ): Promise<{ tooSoon: boolean; interval: number } | undefined>;
  /**
   * A rate limiter whose counters live in this store (shared by every instance on Redis).
   * Its methods reject with StoreUnavailableError when the store cannot answer.
   */
  createRateLimiter(options: RateLimiterOptions): RateLimiterAbstract;
  /** Keys blocked by a rate limit, known to every instance (see BlockList). */
  readonly blocks: BlockList;
  /**
   * Deletes every key of this store (relative to its prefix, e.g. `AccessToken:…`, `rec:…`) for
   * which `match` is true. For the test API's reset and revoke-all; not for production paths.
   */
  deleteWhere(match: (key: string) => boolean): Promise<number>;
  /**
   * The ids of the live sessions signed in as `accountId` (kept from the Session adapter's
   * upserts and destroys; for ending one user's sessions). The index holds at most
   * SESSIONS_INDEXED_PER_ACCOUNT ids, those expiring last: `complete` is false once one was
   * dropped, and a caller that must find them all then scans `Session:` keys instead.
   */
  sessionsOf(accountId: string): Promise<{ ids: string[]; complete: boolean }>;
  /** Keys (relative to the prefix) that start with `prefix`; for admin listings, not hot paths. */
  listKeys(prefix: string): Promise<string[]>;
  /** Resolves when the store can serve; rejects when it cannot. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Blocked keys (e.g. `clientAuthPerIp:192.0.2.1`) that every instance learns of, so that "is it
 * blocked?" is answered in-process. On Redis a block reaches the other instances by pub/sub and
 * a periodic re-read (redis-blocks.ts), within a bounded delay (README "Rate limits").
 */
export interface BlockList {
  /**
   * Until when `key` is blocked (epoch ms; 0: it is not), from this process's view; undefined
   * when the view may have missed a change (subscription lost, not yet re-read): ask the
   * counters then.
   */
  blockedUntil(key: string): number | undefined;
  /** Blocks `key` until `until` (epoch ms) on every instance. */
  block(key: string, until: number): Promise<void>;
  /** Lifts a block on every instance (after a success that resets the budget). */
  unblock(key: string): Promise<void>;
  /** Resolves true once the view is in sync (re-reading it now if it is not), else false. */
  whenSynced(): Promise<boolean>;
}

/** The arguments of Store.pollDeviceCode: the polling client and recordPoll's. */
export interface DeviceCodePoll {
  clientId: string;
  key: string;
  now: number;
  intervalSeconds: number;
  slowDownSeconds: number;
  ttlSeconds: number;
  freePolls: number;
}

/** Whether a DeviceCode record would be answered authorization_pending to `clientId` at `now` (ms). */
export function isPendingDeviceCode(
  record: AdapterPayload | undefined,
  clientId: string,
  now: number,
): boolean {
  return (
    record !== undefined &&
    !record.consumed &&
    record.accountId === undefined &&
    record.error === undefined &&
    record.clientId === clientId &&
    typeof record.exp === 'number' &&
    record.exp * 1000 > now
  );
}

export interface RateLimiterOptions {
  keyPrefix: string;
  /** Attempts allowed per `duration` seconds. */
  points: number;
  duration: number;
  /** Seconds a key stays blocked once over the limit (default: until the window ends). */
  blockDuration?: number;
}

/** How many session ids the per-account index keeps (see Store.sessionsOf). */
export const SESSIONS_INDEXED_PER_ACCOUNT = 100;

/** Models whose records belong to a grant and are removed by revokeByGrantId. */
export const GRANTABLE_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'ClientCredentials',
]);

/**
 * How long to keep a record given oidc-provider's `expiresIn`. Device codes are kept ten
 * minutes past their expiry so that polling after expiry answers `expired_token` (RFC 8628
 * §3.5) rather than `invalid_grant`; oidc-provider checks expiry itself.
 */
export function retentionSeconds(model: string, expiresIn: number | undefined): number | undefined {
  if (expiresIn === undefined) return undefined;
  return model === 'DeviceCode' ? expiresIn + 600 : expiresIn;
}

export type { Adapter, AdapterPayload, RateLimiterAbstract };
