// Child processes for the bench: a private redis-server, the servers under test, and their
// memory use (RSS summed over a process and its children, read from /proc).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Asks the OS for a free TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a free port (never the machine's shared Redis), without persistence;
 * with `replicaOf` (a port), a replica of that server, returned once it is in step.
 */
export async function startRedis({ replicaOf } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'no',
      '--logfile',
      join(dir, 'redis.log'),
      ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForRedis(port, 5000);
  if (replicaOf) await waitForReplica(port, 10_000);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Asks the Redis server on `port` one command (RESP inline form) and resolves with its raw reply
 * (the first packet), or '' when the connection fails, closes or stays silent for 2 s.
 */
export function askRedis(port, command) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('connect', () => {
      socket.write(`${command}\r\n`);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString());
      });
    });
    socket.once('error', () => resolve(''));
    socket.once('close', () => resolve(''));
  });
}

async function waitForReplica(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await askRedis(port, 'INFO replication')).includes('master_link_status:up')) return;
    await sleep(100);
  }
  throw new Error(`the replica on port ${port} did not catch up with its master`);
}

/** Resolves once the server answers PING with PONG (not LOADING: an AOF is read back first). */
export async function waitForRedis(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await askRedis(port, 'PING')).startsWith('+PONG')) return;
    await sleep(50);
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

/**
 * Starts a server process and resolves once it printed `readyLine` on stdout. Its stderr is kept
 * (the last lines are shown if it fails); stdout after the ready line is discarded.
 */
export async function startServer({ name, args, env, readyLine, timeoutMs = 30000 }) {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} did not become ready within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    const onData = (chunk) => {
      stdout = (stdout + chunk).slice(-8000);
      if (stdout.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready\n${stdout}\n${stderr}`));
    });
  });
  child.stdout.resume();
  return {
    name,
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
    async stop(graceMs = 15000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Process ids of `pid` and all its descendants (from /proc/<pid>/stat parent ids). */
export function processTree(pid) {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name is in parentheses and may contain spaces: read after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      continue; // the process exited while we looked
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i += 1) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** Resident set size of one process, in bytes (0 when it is gone). */
export function rssOf(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** RSS of a server: each process of its tree, the largest one, and their sum. */
export function rssOfServer(pid) {
  const processes = processTree(pid).map((p) => ({ pid: p, rss: rssOf(p) }));
  return {
    total: processes.reduce((sum, p) => sum + p.rss, 0),
    largest: Math.max(0, ...processes.map((p) => p.rss)),
    processes,
  };
}

/** CPU time (user + system, seconds) used so far by the given processes together. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      continue; // gone
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** CPU time (seconds, all cores) the whole machine spent busy so far, from /proc/stat. */
export function machineBusySeconds() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** Commands Redis has run so far (the sum of INFO commandstats calls). */
export async function redisCommands(client) {
  const info = await client.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}
