import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Topology {
  url: string;
  destroy(): Promise<void>;
}

/** Runs redis-cli against a local port and returns its trimmed output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

/** Polls `check` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // Not yet: a node starting or failing over refuses connections for a moment.
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A replica of `master` whose replication link is up. */
async function startReplica(master: RedisServer, args: string[] = []): Promise<RedisServer> {
  const replica = await startRedisServer({
    args: ['--replicaof', '127.0.0.1', String(master.port), ...args],
  });
  await waitUntil(`replica on ${replica.port}`, async () =>
    (await redisCli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
  );
  return replica;
}

export interface ClusterTopology extends Topology {
  nodes: RedisServer[];
}

/**
 * A real Redis Cluster of local redis-server processes: three masters, each with `replicas`
 * replicas (default 1, so that the default single-use acknowledgement can be met).
 */
export async function startRedisCluster(
  options: { replicas?: number; nodeTimeoutMs?: number; appendonly?: boolean } = {},
): Promise<ClusterTopology> {
  const replicas = options.replicas ?? 1;
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3 * (1 + replicas); i += 1) {
    nodes.push(
      await startRedisServer({
        appendonly: options.appendonly,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${i}.conf`,
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 2000),
        ],
      }),
    );
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  // Wait until every node agrees the cluster is up and every replica is in step.
  for (const node of nodes) {
    await waitUntil(`cluster state on ${node.port}`, async () => {
      const info = await redisCli(node.port, 'cluster', 'info');
      const replication = await redisCli(node.port, 'info', 'replication');
      return (
        info.includes('cluster_state:ok') &&
        (replication.includes('role:master') || replication.includes('master_link_status:up'))
      );
    });
  }
  return {
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    async destroy() {
      await Promise.all(nodes.map((n) => n.destroy()));
    },
  };
}

export interface SentinelTopology extends Topology {
  master: RedisServer;
  replicas: RedisServer[];
  sentinel: RedisServer;
}

/**
 * A master with `replicas` replicas (default 1) and one Sentinel (quorum 1) watching it as
 * "gatehouse-master". The replicas are in step before the Sentinel starts, so it knows them.
 */
export async function startRedisSentinel(
  options: { replicas?: number; downAfterMs?: number; appendonly?: boolean } = {},
): Promise<SentinelTopology> {
  const master = await startRedisServer({ appendonly: options.appendonly });
  const replicas: RedisServer[] = [];
  for (let i = 0; i < (options.replicas ?? 1); i += 1) replicas.push(await startReplica(master));
  const sentinelPort = await freePort();
  const confPath = join(master.dir, 'sentinel.conf');
  writeFileSync(
    confPath,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${master.dir}`,
      `sentinel monitor gatehouse-master 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds gatehouse-master ${options.downAfterMs ?? 2000}`,
      'sentinel failover-timeout gatehouse-master 10000',
      '',
    ].join('\n'),
  );
  const sentinel = await startRedisServer({ port: sentinelPort, args: [], sentinelConfig: confPath });
  return {
    url: `redis-sentinel://127.0.0.1:${sentinelPort}?name=gatehouse-master`,
    master,
    replicas,
    sentinel,
    async destroy() {
      await sentinel.destroy();
      await Promise.all(replicas.map((r) => r.destroy()));
      await master.destroy();
    },
  };
}
