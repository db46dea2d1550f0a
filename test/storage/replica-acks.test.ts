import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { createMetrics, storeObserver } from '../../src/http/metrics.js';
import { instrumentStore } from '../../src/storage/instrument-store.js';
import { createRedisStore } from '../../src/storage/redis-store.js';
import { clusterSlot } from '../../src/storage/cluster-slot.js';
import { requiredReplicaAcks } from '../../src/storage/replica-acks.js';
import { StoreUnavailableError, UnacknowledgedWriteError } from '../../src/storage/store-unavailable.js';
import type { Store } from '../../src/storage/store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { redisCli, startRedisCluster, waitUntil, type ClusterTopology } from '../support/redis-topologies.js';

// Long enough that a healthy replica acknowledges in time on a busy test machine.
const TIMEOUT_MS = 1000;

/** A logger that keeps its lines for assertions. */
function recordingLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function openStore(url: string, logger: Logger, redis: Record<string, unknown> = {}) {
  const config = loadConfig({
    env: { REDIS_URL: url, NODE_ENV: 'test' },
    overrides: { redis: { consumeAckReplicas: 1, consumeAckTimeoutMs: TIMEOUT_MS, ...redis } },
  });
  return createRedisStore(config, config.redisConnection!, logger);
}

async function codeIn(store: Store, model = 'AuthorizationCode') {
  const id = `code-${Math.random().toString(36).slice(2)}`;
  await store.adapter(model).upsert(id, { grantId: `g-${id}` }, 60);
  return id;
}

describe('redis.consumeAckReplicas default', () => {
  it('is 1 on Sentinel and Cluster, 0 on one server, and whatever the operator set', () => {
    expect(requiredReplicaAcks(null, 'sentinel')).toBe(1);
    expect(requiredReplicaAcks(null, 'cluster')).toBe(1);
    expect(requiredReplicaAcks(null, 'single')).toBe(0);
    expect(requiredReplicaAcks(0, 'cluster')).toBe(0);
    expect(requiredReplicaAcks(2, 'single')).toBe(2);
  });

  it('is not set in config/default.json, so the URL decides', () => {
    expect(loadConfig({ env: { NODE_ENV: 'test' } }).redis.consumeAckReplicas).toBeNull();
  });
});

describe('acknowledged single-use writes on a master without replicas', () => {
  let master: RedisServer;
  let store: Store;
  let lines: { level: number; msg: string }[];
  const metrics = createMetrics();
  beforeAll(async () => {
    master = await startRedisServer();
    const recording = recordingLogger();
    lines = recording.lines;
    store = instrumentStore(await openStore(master.url, recording.logger), storeObserver(metrics));
  });
  afterAll(async () => {
    await store?.close();
    await master?.destroy();
  });

  it('fails a consume closed within the timeout, counts it and warns once', async () => {
    const id = await codeIn(store);
    const started = Date.now();
    const failure = await store
      .adapter('AuthorizationCode')
      .consume(id)
      .catch((err: unknown) => err);
    const elapsed = Date.now() - started;
    expect(failure).toBeInstanceOf(UnacknowledgedWriteError);
    expect(failure).toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    // The mark stays on the master: the code is spent, the client has to start over.
    expect((await store.adapter('AuthorizationCode').find(id))?.consumed).toBeDefined();

    // Moments later the master is known to be short: fail at once, without spending the code.
    const second = await codeIn(store);
    const fast = Date.now();
    await expect(store.adapter('AuthorizationCode').consume(second)).rejects.toBeInstanceOf(
      UnacknowledgedWriteError,
    );
    expect(Date.now() - fast).toBeLessThan(TIMEOUT_MS);
    expect((await store.adapter('AuthorizationCode').find(second))?.consumed).toBeUndefined();

    const counted = await metrics.unacknowledgedConsumes.get();
    expect(counted.values.find((v) => v.labels.operation === 'consume')?.value).toBe(2);
    const warnings = lines.filter((l) => l.level === 40 && l.msg.includes('replicas acknowledged'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('0 of 1 required replicas acknowledged');
  });

  it('fails replay-cache entries and revocations closed too', async () => {
    // A store of its own, which has not yet seen the master short: each write waits for WAIT.
    const fresh = await openStore(master.url, pino({ level: 'silent' }));
    try {
      const started = Date.now();
      const outcomes = await Promise.allSettled([
        fresh.setRecordIfAbsent(`jti-${Date.now()}`, true, 60),
        fresh.adapter('RefreshToken').revokeByGrantId('g-any'),
        fresh.adapter('RefreshToken').destroy('rt-any'),
        fresh.adapter('DeviceCode').consume(await codeIn(fresh, 'DeviceCode')),
      ]);
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(UnacknowledgedWriteError) });
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    } finally {
      await fresh.close();
    }
  });

  it('says why in ping (readiness) and still serves reads and ordinary writes', async () => {
    const failure = await store.ping().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).reason).toBe('redis: 0 of 1 required replicas acknowledged');
    await store.setRecord('plain', { ok: true }, 60);
    expect(await store.getRecord('plain')).toEqual({ ok: true });
  });

  it('recovers when a replica joins: consumes served again, one info line', async () => {
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    try {
      await waitUntil('replica link', async () =>
        (await redisCli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
      );
      await waitUntil('readiness', () => store.ping().then(() => true), 5000);
      const id = await codeIn(store);
      await store.adapter('AuthorizationCode').consume(id);
      const key = `gatehouse:AuthorizationCode:${id}`;
      // Acknowledged means the replica has the mark by the time consume resolves.
      expect(await redisCli(replica.port, 'hget', key, 'consumed')).not.toBe('');
      const infos = lines.filter(
        (l) => l.level === 30 && l.msg.includes('acknowledge single-use writes again'),
      );
      expect(infos).toHaveLength(1);
    } finally {
      await replica.destroy();
    }
  });
});

describe('acknowledged single-use writes with a replica', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let store: Store;
  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await waitUntil('replica link', async () =>
      (await redisCli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
    );
    store = await openStore(master.url, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await store?.close();
    await replica?.destroy();
    await master?.destroy();
  });

  it('consumes once, and the replica knows it when consume resolves', async () => {
    const id = await codeIn(store);
    await store.adapter('AuthorizationCode').consume(id);
    expect(await redisCli(replica.port, 'hget', `gatehouse:AuthorizationCode:${id}`, 'consumed')).toMatch(
      /^\d+$/,
    );
    await expect(store.adapter('AuthorizationCode').consume(id)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await store.ping();
  });

  it('stores a replay-cache entry once', async () => {
    const key = `jti-${Date.now()}`;
    expect(await store.setRecordIfAbsent(key, 1, 60)).toBe(true);
    expect(await store.setRecordIfAbsent(key, 1, 60)).toBe(false);
  });

  it('fails closed within the timeout while the replica is stalled, then serves again', async () => {
    const id = await codeIn(store);
    replica.freeze();
    try {
      const started = Date.now();
      await expect(store.adapter('AuthorizationCode').consume(id)).rejects.toBeInstanceOf(
        UnacknowledgedWriteError,
      );
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);
    } finally {
      replica.thaw();
    }
    await waitUntil('readiness', () => store.ping().then(() => true), 5000);
    await store.adapter('AuthorizationCode').consume(await codeIn(store));
  });

  it('turns off with consumeAckReplicas 0: consumes succeed with the replica stalled', async () => {
    const plain = await openStore(master.url, pino({ level: 'silent' }), { consumeAckReplicas: 0 });
    replica.freeze();
    try {
      await plain.adapter('AuthorizationCode').consume(await codeIn(plain));
    } finally {
      replica.thaw();
      await plain.close();
    }
  });
});

describe('acknowledged single-use writes on a cluster', () => {
  let cluster: ClusterTopology;
  let store: Store;
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1 });
    store = await openStore(cluster.url, pino({ level: 'silent' }));
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.destroy();
  });

  /** The replica of the shard master that holds `key`, and a replica of another shard. */
  async function replicasFor(key: string) {
    const slot = Number(await redisCli(cluster.nodes[0]!.port, 'cluster', 'keyslot', key));
    // CLUSTER NODES: id, ip:port@bus, flags, master id, …, then a master's slot ranges.
    const nodes = (await redisCli(cluster.nodes[0]!.port, 'cluster', 'nodes')).split('\n').map((line) => {
      const [id = '', address = '', flags = '', masterId = '', , , , , ...ranges] = line.split(' ');
      const serves = ranges.some((range) => {
        const [from = -1, to = from] = range.split('-').map(Number);
        return slot >= from && slot <= to;
      });
      return {
        id,
        port: Number(address.split(/[:@]/)[1]),
        replica: flags.includes('slave'),
        masterId,
        serves,
      };
    });
    const owner = nodes.find((n) => !n.replica && n.serves)!;
    const replicas = nodes.filter((n) => n.replica);
    return {
      own: replicas.find((r) => r.masterId === owner.id)!.port,
      other: replicas.find((r) => r.masterId !== owner.id)!.port,
    };
  }

  it('computes the hash slot of a key as the cluster does (hash tags included)', async () => {
    for (const key of ['gatehouse:AuthorizationCode:abc', '{user1000}.following', 'a{}b', 'x{y}z{w}', 'é']) {
      expect(clusterSlot(key)).toBe(
        Number(await redisCli(cluster.nodes[0]!.port, 'cluster', 'keyslot', key)),
      );
    }
  });

  it('waits on the shard that holds the key: its stalled replica fails the consume, another does not', async () => {
    const id = await codeIn(store);
    const key = `gatehouse:AuthorizationCode:${id}`;
    const { own, other } = await replicasFor(key);
    const byPort = (port: number) => cluster.nodes.find((n) => n.port === port)!;

    byPort(other).freeze();
    try {
      await store.adapter('AuthorizationCode').consume(id);
    } finally {
      byPort(other).thaw();
    }
    // A cluster replica answers reads only after READONLY.
    const replica = new Redis({ port: own, lazyConnect: true });
    try {
      await replica.connect();
      await replica.call('READONLY');
      expect(await replica.hget(key, 'consumed')).toMatch(/^\d+$/);
    } finally {
      replica.disconnect();
    }

    const next = await codeIn(store);
    const nextReplicas = await replicasFor(`gatehouse:AuthorizationCode:${next}`);
    byPort(nextReplicas.own).freeze();
    try {
      await expect(store.adapter('AuthorizationCode').consume(next)).rejects.toBeInstanceOf(
        UnacknowledgedWriteError,
      );
    } finally {
      byPort(nextReplicas.own).thaw();
    }
  });
});
