import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { BlockList } from './store.js';
import type { RedisClient } from './redis-connect.js';

/**
 * How often each instance re-reads every block from Redis even while its subscription looks
 * alive: the longest a lost pub/sub message (e.g. across a Cluster partition) can leave a block
 * unseen by an instance (README "Rate limits").
 */
export const BLOCKS_RESYNC_MS = 1000;

/**
 * The Redis BlockList: every instance keeps a per-process view of the blocked keys, so the
 * check in front of every client authentication and sign-in costs no round trip.
 *
 * In Redis: the sorted set `<prefix>blocks` (member: the key, score: blocked until, epoch ms) is
 * the truth; a block or unblock is one MULTI that changes it and PUBLISHes the change on the
 * channel `<prefix>blocks`, to which every instance is subscribed on a connection of its own.
 *
 * The view is trusted only while it is in sync: from the moment the subscription is confirmed
 * and the set has been read after it, until the subscriber's connection is lost or a periodic
 * re-read fails. Out of sync, `blockedUntil` answers undefined and the caller reads the counters
 * in Redis (fail safe: a lost subscription costs round trips, never a missed block). The set is
 * re-read every BLOCKS_RESYNC_MS, which bounds how long a lost message can go unseen.
 */
export function createRedisBlocks(
  client: RedisClient,
  prefix: string,
  logger: Logger,
): BlockList & { close(): void } {
  const setKey = `${prefix}blocks`;
  const channel = `${prefix}blocks`;
  const view = new Map<string, number>();
  let synced = false;
  let closed = false;
  // Changes heard while a re-read is in flight, applied again over its (possibly older) answer.
  let heardDuringResync: Array<[string, number]> | undefined;
  let resyncing: Promise<void> | undefined;

  const apply = (key: string, until: number) => {
    if (until > Date.now()) view.set(key, until);
    else view.delete(key);
  };

  // Subscribing takes a connection of its own; it keeps the main one's options (fail closed).
  const subscriber: RedisClient = client instanceof Cluster ? client.duplicate() : client.duplicate();
  subscriber.on('error', () => {
    // The main connection logs Redis outages; this one only falls out of sync (below).
    synced = false;
  });
  for (const event of ['close', 'reconnecting', 'end']) {
    subscriber.on(event, () => {
      synced = false;
    });
  }
  subscriber.on('ready', () => void resync());
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const change = parseChange(message);
    if (!change) return;
    apply(change[0], change[1]);
    heardDuringResync?.push(change);
  });

  function resync(): Promise<void> {
    resyncing ??= (async () => {
      heardDuringResync = [];
      try {
        // Re-subscribing is harmless and proves the subscription is alive before the set is read.
        await subscriber.subscribe(channel);
        const now = Date.now();
        const entries = await client.zrangebyscore(setKey, `(${now}`, '+inf', 'WITHSCORES');
        view.clear();
        for (let i = 0; i + 1 < entries.length; i += 2) view.set(entries[i]!, Number(entries[i + 1]));
        for (const [key, until] of heardDuringResync) apply(key, until);
        synced = !closed && subscriber.status === 'ready';
      } catch (err) {
        if (synced) logger.warn({ err: (err as Error).message }, 'rate-limit blocks out of sync');
        synced = false;
      } finally {
        heardDuringResync = undefined;
        resyncing = undefined;
      }
    })();
    return resyncing;
  }
  const timer = setInterval(() => void resync(), BLOCKS_RESYNC_MS);
  timer.unref();

  async function publish(key: string, until: number) {
    const now = Date.now();
    const multi = client.multi();
    if (until > now) multi.zadd(setKey, until, key);
    else multi.zrem(setKey, key);
    multi.zremrangebyscore(setKey, '-inf', now);
    multi.publish(channel, JSON.stringify({ k: key, u: until }));
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI aborted');
  }

  return {
    blockedUntil(key) {
      if (!synced) return undefined;
      const until = view.get(key);
      if (until === undefined) return 0;
      if (until > Date.now()) return until;
      view.delete(key);
      return 0;
    },
    async block(key, until) {
      apply(key, until);
      await publish(key, until);
    },
    async unblock(key) {
      // Nothing to tell anyone when this instance is in sync and knows of no block.
      if (synced && !view.has(key)) return;
      view.delete(key);
      await publish(key, 0);
    },
    whenSynced: async () => {
      if (synced) return true;
      if (subscriber.status !== 'ready') await readyOrTimeout(subscriber, 2000);
      await resync();
      return synced;
    },
    close() {
      closed = true;
      synced = false;
      clearInterval(timer);
      subscriber.disconnect(false);
    },
  };
}

/** Waits for the connection's next `ready`, at most `ms`. */
function readyOrTimeout(connection: RedisClient, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      connection.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    connection.on('ready', done);
  });
}

/** A published change: `{"k": key, "u": until}` (u = 0: unblocked); anything else is ignored. */
function parseChange(message: string): [string, number] | undefined {
  try {
    const { k, u } = JSON.parse(message) as { k?: unknown; u?: unknown };
    if (typeof k === 'string' && typeof u === 'number' && Number.isFinite(u)) return [k, u];
  } catch {
    // Only Gatehouse publishes on this channel; a malformed message changes nothing.
  }
  return undefined;
}
