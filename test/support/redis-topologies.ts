import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface Topology {
  url: string;
  destroy(): Promise<void>;
}

/** A real three-master Redis Cluster of local redis-server processes. */
export async function startRedisCluster(): Promise<Topology> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i += 1) {
    nodes.push(
      await startRedisServer({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${i}.conf`,
          '--cluster-node-timeout',
          '2000',
        ],
      }),
    );
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  // Wait until every node agrees the cluster is up.
  for (const node of nodes) {
    for (let i = 0; i < 100; i += 1) {
      const { stdout } = await run('redis-cli', ['-p', String(node.port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    async destroy() {
      await Promise.all(nodes.map((n) => n.destroy()));
    },
  };
}

/** A master and one Sentinel watching it as "gatehouse-master". */
export async function startRedisSentinel(): Promise<Topology> {
  const master = await startRedisServer();
  const sentinelPort = await freePort();
  const confPath = join(master.dir, 'sentinel.conf');
  writeFileSync(
    confPath,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${master.dir}`,
      `sentinel monitor gatehouse-master 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds gatehouse-master 2000',
      '',
    ].join('\n'),
  );
  const sentinel = await startRedisServer({ port: sentinelPort, args: [], sentinelConfig: confPath });
  return {
    url: `redis-sentinel://127.0.0.1:${sentinelPort}?name=gatehouse-master`,
    async destroy() {
      await sentinel.destroy();
      await master.destroy();
    },
  };
}
