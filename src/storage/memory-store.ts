import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import {
  GRANTABLE_MODELS,
  SESSIONS_INDEXED_PER_ACCOUNT,
  isPendingDeviceCode,
  retentionSeconds,
  type Store,
} from './store.js';

/**
 * The embedded in-memory store, for development and as a test IdP. Single process only;
 * refused in production unless explicitly allowed.
 *
 * Key layout (the Redis store uses the same names):
 *   `<Model>:<id>`            the record, expiring with it
 *   `uid:<uid>`               Session id by its uid
 *   `userCode:<userCode>`     DeviceCode id by its user code
 *   `grant:<grantId>`         the set of `<Model>:<id>` keys belonging to a grant
 *   `accountSessions:<accountId>`  Session ids by account, each with its expiry (Store.sessionsOf)
 *   `rec:<key>`               Gatehouse's own records (keys, device polling, counters)
 */
export function createMemoryStore(): Store & { clear(): void } {
  const data = new Map<string, { value: unknown; expiresAt: number }>();
  const blocked = new Map<string, number>();

  const get = <T>(key: string): T | undefined => {
    const entry = data.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      data.delete(key);
      return undefined;
    }
    return entry.value as T;
  };
  const set = (key: string, value: unknown, ttlSeconds?: number) => {
    data.set(key, { value, expiresAt: ttlSeconds ? Date.now() + ttlSeconds * 1000 : Infinity });
  };
  const expiryOf = (key: string) => data.get(key)?.expiresAt ?? 0;

  // Expired entries are also dropped lazily on read; the sweep bounds memory.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of data) if (entry.expiresAt <= now) data.delete(key);
  }, 60_000);
  sweep.unref();

  function revokeGrant(grantId: string) {
    const members = get<Set<string>>(`grant:${grantId}`);
    if (members) for (const key of members) data.delete(key);
    data.delete(`grant:${grantId}`);
  }

  type SessionIndex = { ids: Map<string, number>; complete: boolean };

  /** Adds a session to its account's index: expired ids dropped, at most the last-expiring N kept. */
  function indexSession(accountId: string, id: string, expiresAt: number) {
    const key = `accountSessions:${accountId}`;
    const index = get<SessionIndex>(key) ?? { ids: new Map<string, number>(), complete: true };
    const now = Date.now();
    for (const [sid, until] of index.ids) if (until <= now) index.ids.delete(sid);
    index.ids.set(id, expiresAt);
    if (index.ids.size > SESSIONS_INDEXED_PER_ACCOUNT) {
      const [earliest] = [...index.ids].sort((a, b) => a[1] - b[1])[0]!;
      index.ids.delete(earliest);
      index.complete = false;
    }
    data.set(key, { value: index, expiresAt: Math.max(expiryOf(key), expiresAt) });
  }

  function unindexSession(accountId: string, id: string) {
    get<SessionIndex>(`accountSessions:${accountId}`)?.ids.delete(id);
  }

  function adapter(model: string): Adapter {
    const keyFor = (id: string) => `${model}:${id}`;
    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
        const key = keyFor(id);
        const ttl = retentionSeconds(model, expiresIn);
        const record = structuredClone(payload);
        // A stale re-save must never un-consume a code or token.
        const consumed = get<AdapterPayload>(key)?.consumed;
        if (consumed && !record.consumed) record.consumed = consumed;
        set(key, record, ttl);
        if (payload.uid) set(`uid:${payload.uid}`, id, ttl);
        if (payload.userCode) set(`userCode:${payload.userCode}`, id, ttl);
        if (model === 'Session' && typeof payload.accountId === 'string') {
          indexSession(payload.accountId, id, ttl ? Date.now() + ttl * 1000 : Infinity);
        }
        if (GRANTABLE_MODELS.has(model) && payload.grantId) {
          const grantKey = `grant:${payload.grantId}`;
          const members = get<Set<string>>(grantKey) ?? new Set<string>();
          members.add(key);
          const until = Math.max(expiryOf(grantKey), Date.now() + (ttl ?? Infinity) * 1000);
          data.set(grantKey, { value: members, expiresAt: until });
        }
      },
      async find(id: string) {
        const value = get<AdapterPayload>(keyFor(id));
        return value ? structuredClone(value) : undefined;
      },
      async findByUid(uid: string) {
        const id = get<string>(`uid:${uid}`);
        return id ? this.find(id) : undefined;
      },
      async findByUserCode(userCode: string) {
        const id = get<string>(`userCode:${userCode}`);
        return id ? this.find(id) : undefined;
      },
      async consume(id: string) {
        // Check-and-set in one synchronous step: of two concurrent redemptions exactly one wins.
        const record = get<AdapterPayload>(keyFor(id));
        // oidc-provider consumes only what it just found: a missing record was revoked meanwhile.
        if (!record) throw new errors.InvalidGrant('grant request is invalid');
        if (record.consumed) {
          if (record.grantId) revokeGrant(record.grantId);
          throw new errors.InvalidGrant(
            `${model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`,
          );
        }
        record.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id: string) {
        const record = get<AdapterPayload>(keyFor(id));
        data.delete(keyFor(id));
        if (record?.uid && get(`uid:${record.uid}`) === id) data.delete(`uid:${record.uid}`);
        if (record?.userCode && get(`userCode:${record.userCode}`) === id) {
          data.delete(`userCode:${record.userCode}`);
        }
        if (model === 'Session' && typeof record?.accountId === 'string')
          unindexSession(record.accountId, id);
      },
      async revokeByGrantId(grantId: string) {
        revokeGrant(grantId);
      },
    };
  }

  return {
    kind: 'memory',
    persistent: false,
    adapter,
    async getRecord<T>(key: string) {
      const value = get<T>(`rec:${key}`);
      return value === undefined ? undefined : structuredClone(value);
    },
    async setRecord(key, value, ttlSeconds) {
      set(`rec:${key}`, structuredClone(value), ttlSeconds);
    },
    async setRecordIfAbsent(key, value, ttlSeconds) {
      if (get(`rec:${key}`) !== undefined) return false;
      set(`rec:${key}`, structuredClone(value), ttlSeconds);
      return true;
    },
    async deleteRecord(key) {
      data.delete(`rec:${key}`);
    },
    async recordPoll(key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls = 1) {
      const previous = get<{ interval: number; lastPollAt: number; polls?: number }>(`rec:${key}`);
      // A record without a count was written before counts were kept: its free polls are spent.
      const polls = previous ? (previous.polls ?? Infinity) + 1 : 1;
      const tooSoon =
        previous !== undefined && polls > freePolls && now - previous.lastPollAt < previous.interval * 1000;
      const interval = (previous?.interval ?? intervalSeconds) + (tooSoon ? slowDownSeconds : 0);
      set(`rec:${key}`, { interval, lastPollAt: now, polls: Math.min(polls, 1_000_000) }, ttlSeconds);
      return { tooSoon, interval };
    },
    async pollDeviceCode(id, poll) {
      if (!isPendingDeviceCode(get<AdapterPayload>(`DeviceCode:${id}`), poll.clientId, poll.now))
        return undefined;
      const { key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls } = poll;
      return this.recordPoll(key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls);
    },
    createRateLimiter: (options) => new RateLimiterMemory(options),
    // One process: the view is the truth, always in sync.
    blocks: {
      blockedUntil(key) {
        const until = blocked.get(key) ?? 0;
        if (until > Date.now()) return until;
        blocked.delete(key);
        return 0;
      },
      async block(key, until) {
        blocked.set(key, until);
      },
      async unblock(key) {
        blocked.delete(key);
      },
      whenSynced: async () => true,
    },
    async sessionsOf(accountId) {
      const index = get<SessionIndex>(`accountSessions:${accountId}`);
      const now = Date.now();
      const ids = index ? [...index.ids].filter(([, until]) => until > now).map(([id]) => id) : [];
      return { ids, complete: index?.complete ?? true };
    },
    async listKeys(prefix) {
      return [...data.keys()].filter((key) => key.startsWith(prefix) && get(key) !== undefined);
    },
    async deleteWhere(match) {
      let deleted = 0;
      for (const key of [...data.keys()]) {
        if (match(key)) {
          data.delete(key);
          deleted += 1;
        }
      }
      return deleted;
    },
    async ping() {},
    async close() {
      clearInterval(sweep);
    },
    clear() {
      data.clear();
      blocked.clear();
    },
  };
}
