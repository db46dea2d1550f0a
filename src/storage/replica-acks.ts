import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RedisSettings } from '../config/redis-url.js';
import { createAckEpisodes } from './ack-episodes.js';
import { clusterSlot } from './cluster-slot.js';
import { connectRedis, waitUntilReady, type RedisClient } from './redis-connect.js';
import { StoreUnavailableError, UnacknowledgedWriteError } from './store-unavailable.js';

/** Connections kept for acknowledged writes: WAIT blocks its connection, so one is not enough. */
const POOL_SIZE = 4;
/** The longest a /readyz probe waits for replicas. */
const PROBE_TIMEOUT_MS = 250;

/**
 * How many replicas must acknowledge a single-use write: `redis.consumeAckReplicas` when set,
 * else 1 on Sentinel and Cluster (deployments with replicas that fail over) and 0 on one server.
 */
export function requiredReplicaAcks(configured: number | null, mode: RedisSettings['mode']): number {
  return configured ?? (mode === 'single' ? 0 : 1);
}

/**
 * Writes that must survive a failover. Each runs on a connection of its own followed by
 * `WAIT numreplicas timeout` on that same connection, in one pipeline: WAIT waits for the
 * writes of the connection that sends it, and on a cluster the pipeline goes to the master of
 * its key's slot with the keyless WAIT along. Once WAIT reports enough replicas, a replica
 * promoted later knows the write; when it reports fewer, the write stays on the master but the
 * caller fails closed (UnacknowledgedWriteError, 503) and issues nothing on its strength.
 *
 * @see https://redis.io/docs/latest/commands/wait/
 */
export interface ReplicaAcks {
  readonly required: number;
  /** Runs one single-key command (`args[0]` the command name) and waits for the replicas. */
  write<T>(key: string, args: [string, ...(string | number)[]]): Promise<T>;
  /** Asks every master how many replicas are in step; rejects with the reason when too few. */
  check(): Promise<void>;
  close(): void;
}

export async function createReplicaAcks(
  settings: RedisSettings,
  config: Config,
  logger: Logger,
): Promise<ReplicaAcks | undefined> {
  const required = requiredReplicaAcks(config.redis.consumeAckReplicas, settings.mode);
  if (required === 0) {
    if (settings.mode !== 'single') {
      logger.warn(
        'redis.consumeAckReplicas is 0: after a failover a promoted replica may accept a code or refresh token already redeemed (see README "Redis")',
      );
    }
    return undefined;
  }
  const timeoutMs = config.redis.consumeAckTimeoutMs;
  const pool = Array.from({ length: POOL_SIZE }, () => ({
    // WAIT itself may take timeoutMs: the command timeout must not cut it short.
    client: connectRedis(settings, config, logger, {
      commandTimeoutMs: config.redis.commandTimeoutMs + timeoutMs,
      label: 'redis (acknowledged writes)',
    }),
    inflight: 0,
  }));
  const close = () => pool.forEach(({ client }) => client.disconnect(false));
  try {
    await Promise.all(pool.map(({ client }) => waitUntilReady(client, config.redis.connectTimeoutMs * 3)));
  } catch (err) {
    close();
    throw err;
  }
  const episodes = createAckEpisodes({ required, retryAfterMs: Math.max(timeoutMs, 1000), logger });
  const single = settings.sentinelName ?? `${settings.nodes[0]?.host}:${settings.nodes[0]?.port}`;
  const targetOf = (client: RedisClient, key: string) =>
    client instanceof Cluster ? (client.slots[clusterSlot(key)]?.[0] ?? 'unknown') : single;

  // The least busy connection: one slow WAIT must not queue every other consume behind it.
  const pick = () => pool.reduce((best, c) => (c.inflight < best.inflight ? c : best));

  async function write<T>(key: string, args: [string, ...(string | number)[]]): Promise<T> {
    const connection = pick();
    const target = targetOf(connection.client, key);
    episodes.assertNotKnownShort(target);
    connection.inflight += 1;
    let replies: [Error | null, unknown][] | null;
    try {
      const [command, ...rest] = args;
      replies = await connection.client
        .pipeline()
        .call(command, ...rest)
        .call('WAIT', required, timeoutMs)
        .exec();
    } finally {
      connection.inflight -= 1;
    }
    const [written, waited] = replies ?? [];
    if (!written) throw new Error('no reply from Redis');
    if (written[0]) throw written[0];
    if (!waited || waited[0]) {
      // Written on the master, but whether a replica has it is unknown: as good as unacknowledged.
      throw new UnacknowledgedWriteError(waited?.[0], 'redis: WAIT failed after a single-use write');
    }
    const reason = episodes.record(target, Number(waited[1]));
    if (reason) throw new UnacknowledgedWriteError(undefined, reason);
    return written[1] as T;
  }

  async function check(): Promise<void> {
    const client = pool[0]!.client;
    if (client instanceof Cluster) {
      // ioredis learns a shard's failover only from a redirect; readiness must not wait for one.
      await Promise.all(
        pool.map(
          ({ client: c }) =>
            new Promise<void>((resolve, reject) =>
              (c as Cluster).refreshSlotsCache((err) => (err ? reject(err) : resolve())),
            ),
        ),
      );
    }
    const masters =
      client instanceof Cluster
        ? client
            .nodes('master')
            .map((node) => ({ node, target: `${node.options.host}:${node.options.port}` }))
        : [{ node: client, target: single }];
    episodes.retain(new Set(masters.map((m) => m.target)));
    const reasons = await Promise.all(
      masters.map(async ({ node, target }) => {
        const acked = await node.call('WAIT', required, Math.min(timeoutMs, PROBE_TIMEOUT_MS));
        return episodes.record(target, Number(acked));
      }),
    );
    const short = reasons.filter((r): r is string => !!r);
    if (short.length) throw new StoreUnavailableError(undefined, [...new Set(short)].join('; '));
  }

  logger.debug(
    { replicas: required, timeoutMs },
    'redis: single-use writes wait for replica acknowledgement',
  );
  return { required, write, check, close };
}
