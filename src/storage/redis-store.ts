import { Cluster, type Redis } from 'ioredis';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Logger } from 'pino';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/schema.js';
import type { RedisSettings } from '../config/redis-url.js';
import {
  GRANTABLE_MODELS,
  SESSIONS_INDEXED_PER_ACCOUNT,
  isPendingDeviceCode,
  retentionSeconds,
  type DeviceCodePoll,
  type Store,
} from './store.js';
import { StoreUnavailableError } from './store-unavailable.js';
import { connectRedis, waitUntilReady, type RedisClient } from './redis-connect.js';
import { createReplicaAcks } from './replica-acks.js';
import { createRedisBlocks } from './redis-blocks.js';

/**
 * The Redis store (ioredis): single server, Sentinel or Cluster.
 *
 * Key layout, all under the configured prefix (default `gatehouse:`):
 *   `<Model>:<id>`          hash { payload: JSON, consumed?: epoch seconds }, TTL from expiresIn
 *                           (InitialAccessToken and RegistrationAccessToken: <id> is the SHA-256
 *                           of the token, see oidc/hashed-tokens.ts)
 *   `uid:<uid>`             string: Session id by uid, same TTL as the session
 *   `userCode:<userCode>`   string: DeviceCode id by user code, same TTL as the device code
 *   `grant:<grantId>`       set of `<Model>:<id>` keys of a grant; TTL = the longest member's
 *   `accountSessions:<accountId>`  sorted set of Session ids scored by expiry (ms), at most
 *                           SESSIONS_INDEXED_PER_ACCOUNT of them plus the member `~incomplete`
 *                           once one was dropped; TTL = the longest session's (Store.sessionsOf)
 *   `blocks`                sorted set of rate-limit keys blocked, scored by blocked-until (ms);
 *                           changes are also PUBLISHed on the channel `<prefix>blocks` (redis-blocks.ts)
 *   `rec:<key>`             Gatehouse's own records (signing keys, device polling, counters), JSON;
 *                           `rec:mode` names the mode whose state this is (see store-mode.ts)
 *
 * Test mode appends `test-mode:` to the prefix (open-store.ts), so its keys never mix with these.
 *
 * Every command touches one key, so nothing can fail with CROSSSLOT on a cluster; the
 * check-and-consume of a code or token is one Lua script on its one key, so of any number of
 * parallel redemptions exactly one wins (oidc-provider itself checks, then consumes).
 *
 * Fail closed: no offline queue, bounded command and connect timeouts, no resending after a
 * reconnect. A command that cannot run throws StoreUnavailableError (503); the client keeps
 * reconnecting in the background so the same process serves again when Redis returns.
 *
 * Single use across a failover: when `redis.consumeAckReplicas` (see replica-acks.ts) asks for
 * replica acknowledgement, the writes that spend or revoke something (consume, destroy,
 * revokeByGrantId, setRecordIfAbsent) go through acknowledged connections and fail closed when
 * too few replicas confirm them, so a promoted replica never accepts a spent code again.
 */
export async function createRedisStore(
  config: Config,
  settings: RedisSettings,
  logger: Logger,
): Promise<Store> {
  const prefix = config.redis.keyPrefix;
  const client = connectRedis(settings, config, logger);
  const k = (key: string) => `${prefix}${key}`;

  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      return await command();
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) throw err;
      logger.warn({ err: (err as Error).message }, 'redis command failed');
      throw new StoreUnavailableError(err);
    }
  };

  // Single-key Lua scripts: atomic on any deployment, cluster included.
  client.defineCommand('ghConsume', { numberOfKeys: 1, lua: CONSUME_LUA });
  client.defineCommand('ghUpsert', {
    numberOfKeys: 1,
    // Keeps an existing `consumed` mark: a stale re-save must never un-consume a code.
    lua: `local consumed = redis.call('HGET', KEYS[1], 'consumed')
          redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[1], 'payload', ARGV[1])
          if consumed then redis.call('HSET', KEYS[1], 'consumed', consumed) end
          if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
          return 1`,
  });
  client.defineCommand('ghAddToGrant', {
    numberOfKeys: 1,
    // A set created here has no expiry yet (TTL -1, like one persisted for a member without a
    // TTL): only a set that existed before keeps -1, or it would never expire.
    lua: `local existed = redis.call('EXISTS', KEYS[1])
          redis.call('SADD', KEYS[1], ARGV[1])
          local ttl = tonumber(ARGV[2])
          local current = redis.call('TTL', KEYS[1])
          if ttl <= 0 then redis.call('PERSIST', KEYS[1])
          elseif existed == 0 or (current ~= -1 and current < ttl) then redis.call('EXPIRE', KEYS[1], ttl) end
          return 1`,
  });
  client.defineCommand('ghPoll', {
    numberOfKeys: 1,
    // ARGV: now (ms), first interval (s), slow_down increment (s), TTL (s), free polls.
    // Returns {tooSoon, interval}. A state without `polls` predates the count: no free polls left.
    lua: `${POLL_LUA('KEYS[1]', 0)}
          return { tooSoon, interval }`,
  });
  // KEYS: the DeviceCode record, its poll state; ARGV: the polling client id, then ghPoll's.
  // Returns {payload or '', consumed or '', tooSoon (-1: no poll recorded), interval}.
  client.defineCommand('ghPollDeviceCode', {
    numberOfKeys: 2,
    lua: `local payload = redis.call('HGET', KEYS[1], 'payload')
          if not payload then return { '', '', -1, 0 } end
          local consumed = redis.call('HGET', KEYS[1], 'consumed')
          local ok, record = pcall(cjson.decode, payload)
          local function absent(v) return v == nil or v == cjson.null end
          if consumed or not ok or type(record) ~= 'table' or not absent(record.accountId)
            or not absent(record.error) or record.clientId ~= ARGV[1]
            or type(record.exp) ~= 'number' or record.exp * 1000 <= tonumber(ARGV[2]) then
            return { payload, consumed or '', -1, 0 }
          end
          ${POLL_LUA('KEYS[2]', 1)}
          return { payload, '', tooSoon, interval }`,
  });
  client.defineCommand('ghIndexSession', { numberOfKeys: 1, lua: INDEX_SESSION_LUA });
  type Scripts = {
    ghIndexSession(
      key: string,
      id: string,
      expiresAt: string,
      now: number,
      max: number,
      ttl: number,
    ): Promise<number>;
    ghConsume(key: string, now: number): Promise<number>;
    ghPollDeviceCode(
      record: string,
      pollKey: string,
      clientId: string,
      now: number,
      interval: number,
      slowDown: number,
      ttl: number,
      freePolls: number,
    ): Promise<[string, string, number, number]>;
    ghUpsert(key: string, payload: string, ttl: number): Promise<number>;
    ghAddToGrant(key: string, member: string, ttl: number): Promise<number>;
    ghPoll(
      key: string,
      now: number,
      interval: number,
      slowDown: number,
      ttl: number,
      freePolls: number,
    ): Promise<[number, number]>;
  };
  const scripts = client as unknown as Scripts;
  type Write = (c: Scripts & Pick<Redis, 'set'>) => unknown;
  /**
   * Sends a save's writes as one MULTI: one round trip, applied together. A Cluster spreads
   * their keys over slots a MULTI cannot span, so there they go one command each, sent together.
   */
  async function writeTogether(writes: Write[]): Promise<void> {
    if (client instanceof Cluster || writes.length === 1) {
      await Promise.all(writes.map((write) => write(client as unknown as Scripts & Redis)));
      return;
    }
    const multi = client.multi();
    for (const write of writes) write(multi as unknown as Scripts & Redis);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
  }

  await run(() => waitUntilReady(client, config.redis.connectTimeoutMs * 3));
  await warnIfEvicting(client, logger);
  const acks = await run(() => createReplicaAcks(settings, config, logger)).catch((err: unknown) => {
    client.disconnect(false);
    throw err;
  });

  const blocks = createRedisBlocks(client, prefix, logger);
  // The first requests already answer from the view when Redis is there to fill it.
  await blocks.whenSynced();

  // The writes that spend or revoke something: acknowledged by replicas when acks are on.
  const spend = {
    consume: (key: string, at: number) =>
      acks ? acks.write<number>(key, ['EVAL', CONSUME_LUA, 1, key, at]) : scripts.ghConsume(key, at),
    del: (key: string) => (acks ? acks.write<number>(key, ['DEL', key]) : client.del(key)),
    setIfAbsent: (key: string, json: string, ttl?: number): Promise<string | null> => {
      if (acks) return acks.write(key, ttl ? ['SET', key, json, 'EX', ttl, 'NX'] : ['SET', key, json, 'NX']);
      return ttl ? client.set(key, json, 'EX', ttl, 'NX') : client.set(key, json, 'NX');
    },
  };

  const readRecord = async (key: string): Promise<AdapterPayload | undefined> => {
    const hash = await client.hgetall(k(key));
    if (!hash.payload) return undefined;
    const payload = JSON.parse(hash.payload) as AdapterPayload;
    if (hash.consumed) payload.consumed = Number(hash.consumed);
    return payload;
  };

  /**
   * DeviceCode records just read by pollDeviceCode, for the grant's find of the same request (it
   * follows within microseconds); each is used once, and only within a second.
   */
  const polledDeviceCodes = new Map<string, { record: AdapterPayload | undefined; at: number }>();

  /** The RFC 8628 poll state of `key` (one script): whether this poll came too soon, and the interval. */
  async function recordPoll(
    key: string,
    now: number,
    intervalSeconds: number,
    slowDownSeconds: number,
    ttlSeconds: number,
    freePolls: number,
  ) {
    const [tooSoon, interval] = await scripts.ghPoll(
      k(`rec:${key}`),
      now,
      intervalSeconds,
      slowDownSeconds,
      ttlSeconds,
      freePolls,
    );
    return { tooSoon: tooSoon === 1, interval };
  }

  async function pollDeviceCode(id: string, poll: DeviceCodePoll) {
    const { clientId, key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls } = poll;
    if (client instanceof Cluster) {
      // Two slots: read, then record the poll (as before the one-step script).
      if (!isPendingDeviceCode(await readRecord(`DeviceCode:${id}`), clientId, now)) return undefined;
      return recordPoll(key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls);
    }
    const [payload, consumed, tooSoon, interval] = await scripts.ghPollDeviceCode(
      k(`DeviceCode:${id}`),
      k(`rec:${key}`),
      clientId,
      now,
      intervalSeconds,
      slowDownSeconds,
      ttlSeconds,
      freePolls,
    );
    let record: AdapterPayload | undefined;
    if (payload) {
      record = JSON.parse(payload) as AdapterPayload;
      if (consumed) record.consumed = Number(consumed);
    }
    // Bounded: a find that never came (the library refused the value first) must not pile up.
    if (polledDeviceCodes.size >= 10_000) polledDeviceCodes.clear();
    polledDeviceCodes.set(id, { record, at: Date.now() });
    return tooSoon === -1 ? undefined : { tooSoon: tooSoon === 1, interval };
  }

  async function revokeGrant(grantId: string) {
    const grantKey = k(`grant:${grantId}`);
    const members = await client.smembers(grantKey);
    await Promise.all([...members.map((member) => spend.del(k(member))), spend.del(grantKey)]);
  }

  function adapter(model: string): Adapter {
    const keyFor = (id: string) => `${model}:${id}`;
    return {
      upsert: (id, payload, expiresIn) =>
        run(async () => {
          const ttl = retentionSeconds(model, expiresIn) ?? 0;
          const { consumed: _ignored, ...rest } = payload;
          const writes: Write[] = [(c) => c.ghUpsert(k(keyFor(id)), JSON.stringify(rest), ttl)];
          const index = (key: string) =>
            writes.push((c) => (ttl > 0 ? c.set(k(key), id, 'EX', ttl) : c.set(k(key), id)));
          if (payload.uid) index(`uid:${payload.uid}`);
          if (payload.userCode) index(`userCode:${payload.userCode}`);
          if (model === 'Session' && typeof payload.accountId === 'string') {
            const accountKey = k(`accountSessions:${payload.accountId}`);
            const now = Date.now();
            const until = ttl > 0 ? String(now + ttl * 1000) : '+inf';
            writes.push((c) =>
              c.ghIndexSession(accountKey, id, until, now, SESSIONS_INDEXED_PER_ACCOUNT, ttl),
            );
          }
          if (GRANTABLE_MODELS.has(model) && payload.grantId) {
            const grantKey = k(`grant:${payload.grantId}`);
            writes.push((c) => c.ghAddToGrant(grantKey, keyFor(id), ttl));
          }
          await writeTogether(writes);
          if (payload.consumed) await spend.consume(k(keyFor(id)), Number(payload.consumed));
        }),
      find: (id) =>
        run(async () => {
          if (model === 'DeviceCode') {
            const memo = polledDeviceCodes.get(id);
            if (memo) {
              polledDeviceCodes.delete(id);
              if (memo.at > Date.now() - 1000) return memo.record;
            }
          }
          return readRecord(keyFor(id));
        }),
      findByUid: (uid) =>
        run(async () => {
          const id = await client.get(k(`uid:${uid}`));
          return id ? readRecord(keyFor(id)) : undefined;
        }),
      findByUserCode: (userCode) =>
        run(async () => {
          const id = await client.get(k(`userCode:${userCode}`));
          return id ? readRecord(keyFor(id)) : undefined;
        }),
      consume: (id) =>
        run(async () => {
          const result = await spend.consume(k(keyFor(id)), Math.floor(Date.now() / 1000));
          if (result === 1) return;
          // 0: revoked meanwhile; 2: someone else consumed it first. Either way this request loses.
          if (result === 2) {
            const record = await readRecord(keyFor(id));
            if (record?.grantId) await revokeGrant(String(record.grantId));
          }
          throw new errors.InvalidGrant(result === 2 ? 'grant already used' : 'grant request is invalid');
        }),
      destroy: (id) =>
        run(async () => {
          const record = await readRecord(keyFor(id));
          // An interaction is a sign-in in progress, not a credential: no need to wait for replicas.
          const deletes = [model === 'Interaction' ? client.del(k(keyFor(id))) : spend.del(k(keyFor(id)))];
          if (record?.uid) deletes.push(deleteIfPointsTo(`uid:${record.uid}`, id));
          if (record?.userCode) deletes.push(deleteIfPointsTo(`userCode:${record.userCode}`, id));
          if (model === 'Session' && typeof record?.accountId === 'string') {
            deletes.push(client.zrem(k(`accountSessions:${record.accountId}`), id));
          }
          await Promise.all(deletes);
        }),
      revokeByGrantId: (grantId) => run(() => revokeGrant(grantId)),
    };
  }

  /** SCANs every master (a cluster spreads keys over several) for keys under prefix + start. */
  async function scanKeys(start: string): Promise<string[]> {
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const found: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix + start)}*`, 'COUNT', 500);
        cursor = next;
        found.push(...keys.map((key) => key.slice(prefix.length)));
      } while (cursor !== '0');
    }
    return found;
  }

  async function deleteIfPointsTo(key: string, id: string): Promise<number> {
    if ((await client.get(k(key))) === id) return client.del(k(key));
    return 0;
  }

  return {
    kind: 'redis',
    persistent: true,
    adapter,
    getRecord: <T>(key: string) =>
      run(async () => {
        const value = await client.get(k(`rec:${key}`));
        return value === null ? undefined : (JSON.parse(value) as T);
      }),
    setRecord: (key, value, ttlSeconds) =>
      run(async () => {
        const json = JSON.stringify(value);
        await (ttlSeconds
          ? client.set(k(`rec:${key}`), json, 'EX', ttlSeconds)
          : client.set(k(`rec:${key}`), json));
      }),
    setRecordIfAbsent: (key, value, ttlSeconds) =>
      run(async () => {
        const result = await spend.setIfAbsent(k(`rec:${key}`), JSON.stringify(value), ttlSeconds);
        return result === 'OK';
      }),
    deleteRecord: (key) => run(async () => void (await client.del(k(`rec:${key}`)))),
    recordPoll: (key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls = 1) =>
      run(() => recordPoll(key, now, intervalSeconds, slowDownSeconds, ttlSeconds, freePolls)),
    pollDeviceCode: (id, poll) => run(() => pollDeviceCode(id, poll)),
    createRateLimiter: (options) =>
      failClosed(
        fastGet(
          new RateLimiterRedis({
            ...options,
            storeClient: client,
            keyPrefix: `${prefix}rl:${options.keyPrefix}`,
            rejectIfRedisNotReady: true,
          }),
          client,
          options.points,
        ),
      ),
    sessionsOf: (accountId) =>
      run(async () => {
        const members = await client.zrangebyscore(
          k(`accountSessions:${accountId}`),
          `(${Date.now()}`,
          '+inf',
        );
        return { ids: members.filter((m) => m !== INCOMPLETE), complete: !members.includes(INCOMPLETE) };
      }),
    listKeys: (start) => run(() => scanKeys(start)),
    deleteWhere: (match) =>
      run(async () => {
        let deleted = 0;
        for (const key of (await scanKeys('')).filter(match)) deleted += await client.del(k(key));
        return deleted;
      }),
    ping: () =>
      run(async () => {
        await client.ping();
        await acks?.check();
      }),
    blocks,
    close: async () => {
      blocks.close();
      client.disconnect(false);
      acks?.close();
    },
  };
}

/**
 * The Lua of one poll (Store.recordPoll) of the state at `key`, with ARGV from `offset + 1`: now
 * (ms), first interval (s), slow_down increment (s), TTL (s), free polls. Leaves `tooSoon` and
 * `interval` set. A state without `polls` predates the count: no free polls left.
 */
const POLL_LUA = (key: string, offset: number) => {
  const arg = (n: number) => `ARGV[${n + offset}]`;
  return `local now = tonumber(${arg(1)})
          local interval = tonumber(${arg(2)})
          local tooSoon = 0
          local polls = 1
          local previous = redis.call('GET', ${key})
          if previous then
            local state = cjson.decode(previous)
            interval = tonumber(state.interval)
            polls = math.min(tonumber(state.polls or 1000000), 1000000) + 1
            if polls > tonumber(${arg(5)}) and now - tonumber(state.lastPollAt) < interval * 1000 then
              tooSoon = 1
              interval = interval + tonumber(${arg(3)})
            end
          end
          redis.call('SET', ${key}, cjson.encode({ interval = interval, lastPollAt = now, polls = polls }), 'EX', ${arg(4)})`;
};

/** The member marking a per-account session index that dropped an id (session ids never contain `~`). */
const INCOMPLETE = '~incomplete';

/**
 * Adds a session id to its account's index (KEYS[1]); ARGV: id, expiry (ms or +inf), now (ms),
 * how many ids to keep, TTL (s, 0: none). Expired ids go first; past the limit the ids expiring
 * soonest go and the index is marked incomplete. The key's TTL only grows (-2: the key is new).
 */
const INDEX_SESSION_LUA = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
  local current = redis.call('TTL', KEYS[1])
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  local limit = tonumber(ARGV[4])
  if redis.call('ZSCORE', KEYS[1], '${INCOMPLETE}') then limit = limit + 1 end
  local over = redis.call('ZCARD', KEYS[1]) - limit
  if over > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
    redis.call('ZADD', KEYS[1], '+inf', '${INCOMPLETE}')
  end
  local ttl = tonumber(ARGV[5])
  if ttl <= 0 then redis.call('PERSIST', KEYS[1])
  elseif current == -2 or (current ~= -1 and current < ttl) then redis.call('EXPIRE', KEYS[1], ttl) end
  return 1`;

/** Marks a code or token consumed once: 0 absent (revoked), 1 consumed now, 2 consumed before. */
const CONSUME_LUA = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
  if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return 1 end
  return 2`;

function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * rate-limiter-flexible rejects with a RateLimiterRes when a key is over its limit and with an
 * Error when Redis fails; the second becomes StoreUnavailableError (503), never "allowed".
 */
/**
 * `get` is the check in front of every client authentication and sign-in, so it is made one
 * plain GET: rate-limiter-flexible's own is a MULTI of GET and PTTL, several times dearer, and
 * the key is absent for anyone who has not failed lately. The TTL is read only for a key that
 * has counted failures. Same key and the same answer as the library's.
 */
function fastGet(limiter: RateLimiterRedis, client: RedisClient, points: number): RateLimiterRedis {
  limiter.get = async (key: string | number) => {
    const rlKey = limiter.getKey(key);
    const value = await client.get(rlKey);
    if (value === null) return null;
    const consumed = Number.parseInt(value, 10);
    const msBeforeNext = await client.pttl(rlKey);
    return new RateLimiterRes(Math.max(points - consumed, 0), msBeforeNext, consumed, false);
  };
  return limiter;
}

function failClosed(limiter: RateLimiterRedis): RateLimiterRedis {
  for (const method of ['consume', 'penalty', 'reward', 'get', 'block', 'set', 'delete'] as const) {
    const original = limiter[method].bind(limiter) as (...args: unknown[]) => Promise<unknown>;
    (limiter as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
      original(...args).catch((err: unknown) => {
        throw err instanceof RateLimiterRes ? err : new StoreUnavailableError(err);
      });
  }
  return limiter;
}

/** An IdP that loses keys to eviction loses sessions and codes: say so at start-up. */
async function warnIfEvicting(client: RedisClient, logger: Logger): Promise<void> {
  try {
    const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { policy },
        `Redis maxmemory-policy is "${policy}": Redis may evict Gatehouse state; set it to "noeviction"`,
      );
    }
  } catch {
    // CONFIG is often disabled on managed Redis; the warning is advice, not a requirement.
  }
}
