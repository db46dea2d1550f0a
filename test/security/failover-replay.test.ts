import { Redis } from 'ioredis';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { obtainCode, redeemCode, refresh } from '../support/flows.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import {
  redisCli,
  startRedisCluster,
  startRedisSentinel,
  waitUntil,
  type Topology,
} from '../support/redis-topologies.js';

/**
 * Trust boundary: the store across a failover. An attacker holding a code or a refresh token
 * that was just redeemed replays it after the Redis master died and a lagging replica took
 * over. With the default configuration (replica acknowledgement on Sentinel and Cluster) the
 * replay must fail; the controls with `consumeAckReplicas: 0` show the scenario reproduces the
 * replay, so the guarded runs prove something.
 *
 * The lag: the replica is frozen (SIGSTOP) and the master gets 32 MiB of unrelated writes, more
 * than the loopback socket buffers hold, so whatever the master writes next stays in its own
 * memory until the replica reads again. The master is killed (SIGKILL) as soon as the
 * responses arrive.
 */

const BURST_MIB = 32;
const PREFIX = 'gatehouse:';

interface Spendables {
  code: { code: string; verifier: string };
  refreshToken: string;
}

interface Stage {
  topology: Topology;
  gh: RunningGatehouse;
  /** The master that holds the code and the refresh token, and its replica. */
  master: RedisServer;
  replica: RedisServer;
  spendables: Spendables;
  /** Resolves once the replica serves as master. */
  promoted(): Promise<void>;
  /** Gives the promoted master a replica again. */
  addReplica(): Promise<void>;
  extra: RedisServer[];
}

/** Writes `BURST_MIB` MiB to `port` under keys in the slot of `slotKey` (so a cluster node takes them). */
async function burst(port: number, slotKey: string) {
  const redis = new Redis({ port, lazyConnect: true });
  await redis.connect();
  try {
    const chunk = 'x'.repeat(1024 * 1024);
    const pipeline = redis.pipeline();
    for (let i = 0; i < BURST_MIB; i += 1) pipeline.set(`{${slotKey}}:burst:${i}`, chunk);
    await pipeline.exec();
  } finally {
    redis.disconnect();
  }
}

async function spendables(gh: RunningGatehouse): Promise<Spendables> {
  const offline = await obtainCode(gh.issuer, { offline: true });
  const tokens = await redeemCode(gh.issuer, offline.code, offline.verifier);
  expect(tokens.status).toBe(200);
  const code = await obtainCode(gh.issuer);
  return { code, refreshToken: tokens.body.refresh_token! };
}

/**
 * Lags the replica, redeems the code and rotates the refresh token, kills the master when the
 * answers arrive, and waits for the replica's promotion. Returns the two first answers.
 */
async function spendThenFailOver(stage: Stage, thawAfterMs: number | undefined) {
  const { gh, master, replica, spendables: s } = stage;
  replica.freeze();
  try {
    await burst(master.port, `${PREFIX}AuthorizationCode:${s.code.code}`);
    const answers = Promise.all([
      redeemCode(gh.issuer, s.code.code, s.code.verifier),
      refresh(gh.issuer, s.refreshToken),
    ]);
    // With acknowledgement on, the answers wait for the replica: let it catch up meanwhile.
    const thaw = thawAfterMs === undefined ? undefined : setTimeout(() => replica.thaw(), thawAfterMs);
    const [code, rotated] = await answers;
    await master.crash();
    clearTimeout(thaw);
    replica.thaw();
    await stage.promoted();
    return { code, rotated };
  } finally {
    replica.thaw();
  }
}

/** Replays both until the store answers something other than 503 (or `timeoutMs` passes). */
async function replay(stage: Stage, timeoutMs = 15_000) {
  const { gh, spendables: s } = stage;
  const deadline = Date.now() + timeoutMs;
  const seen: number[] = [];
  for (;;) {
    const code = await redeemCode(gh.issuer, s.code.code, s.code.verifier);
    const rotated = await refresh(gh.issuer, s.refreshToken);
    seen.push(code.status, rotated.status);
    const settled = code.status !== 503 && rotated.status !== 503;
    if (settled || Date.now() > deadline) return { code, rotated, seen };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readyz(gh: RunningGatehouse) {
  const res = await fetch(`${gh.issuer}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

async function sentinelStage(redis: Record<string, unknown>): Promise<Stage> {
  const topology = await startRedisSentinel({ replicas: 1, downAfterMs: 1000, appendonly: true });
  const gh = await startTestGatehouse({ env: { REDIS_URL: topology.url }, overrides: { redis } });
  const replica = topology.replicas[0]!;
  const extra: RedisServer[] = [];
  return {
    topology,
    gh,
    master: topology.master,
    replica,
    spendables: await spendables(gh),
    extra,
    promoted: () =>
      waitUntil('the replica promoted by Sentinel', async () => {
        const [, port] = (
          await redisCli(topology.sentinel.port, 'sentinel', 'get-master-addr-by-name', 'gatehouse-master')
        ).split('\n');
        return Number(port) === replica.port && (await redisCli(replica.port, 'role')).startsWith('master');
      }),
    async addReplica() {
      const fresh = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(replica.port)] });
      extra.push(fresh);
      await waitUntil('a new replica in step', async () =>
        (await redisCli(fresh.port, 'info', 'replication')).includes('master_link_status:up'),
      );
    },
  };
}

async function clusterStage(redis: Record<string, unknown>): Promise<Stage> {
  const topology = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000, appendonly: true });
  const gh = await startTestGatehouse({ env: { REDIS_URL: topology.url }, overrides: { redis } });
  const any = topology.nodes[0]!.port;
  const shardOf = async (key: string) => {
    const slot = Number(await redisCli(any, 'cluster', 'keyslot', key));
    const lines = (await redisCli(any, 'cluster', 'nodes')).split('\n').map((line) => line.split(' '));
    const master = lines.find(
      ([, , flags = '', , , , , , ...ranges]) =>
        flags.includes('master') &&
        ranges.some((range) => {
          const [from = -1, to = from] = range.split('-').map(Number);
          return slot >= from && slot <= to;
        }),
    )!;
    const replica = lines.find(
      ([, , flags = '', masterId]) => flags.includes('slave') && masterId === master[0],
    )!;
    const port = (entry: string[]) => Number(entry[1]!.split(/[:@]/)[1]);
    return { master: port(master), replica: port(replica) };
  };
  // The code and the refresh token on one shard, so that one shard's failover tests both.
  let s = await spendables(gh);
  let shard = await shardOf(`${PREFIX}AuthorizationCode:${s.code.code}`);
  for (
    let i = 0;
    (await shardOf(`${PREFIX}RefreshToken:${s.refreshToken}`)).master !== shard.master;
    i += 1
  ) {
    if (i > 20) throw new Error('could not place a code and a refresh token on one shard');
    s = await spendables(gh);
    shard = await shardOf(`${PREFIX}AuthorizationCode:${s.code.code}`);
  }
  const byPort = (port: number) => topology.nodes.find((n) => n.port === port)!;
  const master = byPort(shard.master);
  const replica = byPort(shard.replica);
  expect(await redisCli(master.port, 'exists', `${PREFIX}AuthorizationCode:${s.code.code}`)).toBe('1');
  return {
    topology,
    gh,
    master,
    replica,
    spendables: s,
    extra: [],
    promoted: () =>
      waitUntil('the replica promoted by the cluster', async () => {
        const role = await redisCli(replica.port, 'role');
        const info = await redisCli(replica.port, 'cluster', 'info');
        return role.startsWith('master') && info.includes('cluster_state:ok');
      }),
    async addReplica() {
      // The crashed master, restarted, rejoins as a replica of the shard's new master.
      await master.start();
      await waitUntil('the old master back as a replica in step', async () =>
        (await redisCli(master.port, 'info', 'replication')).includes('master_link_status:up'),
      );
    },
  };
}

async function tearDown(stage: Stage | undefined) {
  await stage?.gh.stop();
  await Promise.all(stage?.extra.map((n) => n.destroy()) ?? []);
  await stage?.topology.destroy();
}

describe.each([
  ['Sentinel', sentinelStage],
  ['Cluster', clusterStage],
])('%s failover with a lagging replica', (_name, startStage) => {
  describe('default configuration (one replica acknowledges each consume)', () => {
    let stage: Stage | undefined;
    afterAll(() => tearDown(stage));

    it('refuses the replayed code and the replayed refresh token after the promotion', async () => {
      // Only the wait is lengthened, so that the redemption succeeds once the replica caught up.
      stage = await startStage({ consumeAckTimeoutMs: 5000 });
      const first = await spendThenFailOver(stage, 300);
      expect(first.code.status).toBe(200);
      expect(first.rotated.status).toBe(200);

      // The promoted master has no replica yet: consumes fail closed and /readyz says why.
      const gh = stage.gh;
      await waitUntil('readyz naming the missing replica', async () => {
        const ready = await readyz(gh);
        return ready.status === 503 && ready.body.reason === 'redis: 0 of 1 required replicas acknowledged';
      });
      const meanwhile = await replay(stage, 0);
      expect(meanwhile.seen).not.toContain(200);
      expect(meanwhile.code.headers.get('retry-after')).toBeTruthy();

      await stage.addReplica();
      await waitUntil('readyz ready again', async () => (await readyz(gh)).status === 200);
      const later = await replay(stage);
      expect(later.seen).not.toContain(200);
      expect(later.code.body.error).toBe('invalid_grant');
      expect(later.rotated.body.error).toBe('invalid_grant');
    }, 90_000);
  });

  describe('control: consumeAckReplicas 0', () => {
    let stage: Stage | undefined;
    afterAll(() => tearDown(stage));

    it('replays the code after the promotion (the scenario reproduces the bug)', async () => {
      stage = await startStage({ consumeAckReplicas: 0 });
      const first = await spendThenFailOver(stage, undefined);
      expect(first.code.status).toBe(200);
      const again = await replay(stage);
      expect(again.code.status).toBe(200);
      expect(again.rotated.status).toBe(200);
    }, 90_000);
  });
});
