// Every 5 seconds while the soak runs: the resident memory of each Gatehouse process (from
// /proc/<pid>/status), Redis's key count (DBSIZE), and the CPU each party used (in cores) since
// the previous sample: the Gatehouse instances, Redis, this process with the minting helper, and
// everything else on the machine (the noise of a shared machine).
import { Redis } from 'ioredis';
import { cpuSeconds, machineBusySeconds, processTree, rssOf } from '../lib/processes.mjs';
import { BUCKET_MS } from './traffic.mjs';

export function startSampler({ t0, instances, redis }) {
  const client = new Redis(redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 200,
  });
  // The restart makes this connection fail for a while; a sample then records null.
  client.on('error', () => {});
  const samples = [];
  const lastCpu = new Map();
  // CPU seconds used by `pids` since the last call (a process seen for the first time: all of it).
  const cpuSince = (key, pids) => {
    let used = 0;
    for (const pid of pids) {
      const now = cpuSeconds([pid]);
      used += now - (lastCpu.get(`${key}:${pid}`) ?? 0);
      lastCpu.set(`${key}:${pid}`, now);
    }
    return used;
  };
  // Start counting now (the first sample would otherwise hold everything since each start).
  for (const i of instances) cpuSince(i.name, [i.server.pid]);
  cpuSince('redis', [redis.pid]);
  const others = () => processTree(process.pid).filter((p) => !instances.some((i) => i.server?.pid === p));
  cpuSince(
    'load',
    others().filter((p) => p !== redis.pid),
  );
  let lastMachine = machineBusySeconds();
  let lastAt = performance.now();
  const take = async () => {
    const at = Date.now();
    let dbsize = null;
    try {
      dbsize = await client.dbsize();
    } catch {
      dbsize = null; // Redis is restarting
    }
    const wall = (performance.now() - lastAt) / 1000;
    lastAt = performance.now();
    const rss = {};
    const cpu = {};
    let servers = 0;
    for (const i of instances) {
      const pid = i.server?.alive ? i.server.pid : undefined;
      rss[i.name] = pid ? { pid, bytes: rssOf(pid) } : null;
      const used = pid ? cpuSince(i.name, [pid]) : 0;
      cpu[i.name] = used / wall;
      servers += used;
    }
    const redisUsed = cpuSince('redis', [redis.pid]);
    const loadUsed = cpuSince(
      'load',
      others().filter((p) => p !== redis.pid),
    );
    const machine = machineBusySeconds();
    const other = Math.max(0, machine - lastMachine - servers - redisUsed - loadUsed);
    lastMachine = machine;
    const round = (n) => Math.round(n * 100) / 100;
    samples.push({
      t: Math.round((at - t0) / 100) / 10,
      dbsize,
      rss,
      cpu: {
        ...Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v)])),
        redis: round(redisUsed / wall),
        loadGenerator: round(loadUsed / wall),
        other: round(other / wall),
      },
    });
  };
  const timer = setInterval(() => void take(), BUCKET_MS);
  return {
    samples,
    /** Stops sampling; resolves with a census of the keys by family (count, how many lack a TTL). */
    async stop() {
      clearInterval(timer);
      await take();
      const keys = await census(client);
      client.disconnect();
      return keys;
    },
  };
}

/** Every key by family (`<prefix><Model>` or `<prefix>rec:<kind>`): how many, how many without a TTL. */
async function census(client) {
  const families = {};
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const ttls = await Promise.all(keys.map((k) => client.ttl(k)));
    keys.forEach((key, i) => {
      if (ttls[i] === -2) return; // expired between SCAN and TTL
      const parts = key.split(':');
      const family = parts.slice(0, parts[1] === 'rec' ? 3 : 2).join(':');
      families[family] ??= { keys: 0, withoutTtl: 0, longestTtlSeconds: 0 };
      const f = families[family];
      f.keys += 1;
      if (ttls[i] === -1) f.withoutTtl += 1;
      else f.longestTtlSeconds = Math.max(f.longestTtlSeconds, ttls[i]);
    });
  } while (cursor !== '0');
  return families;
}
