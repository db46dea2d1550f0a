// The soak's own redis-server: a free port, its own data directory, the append-only file on
// (fsync every second, Redis's default with AOF), and a graceful restart on the same port and
// directory (SHUTDOWN, which flushes the AOF, then a new process that loads it back).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../lib/processes.mjs';

/** Sends one command in RESP inline form and resolves with the first reply packet ('' on error). */
function ask(port, command) {
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

/** Resolves once the server answers PING with PONG (not LOADING: the AOF is read back). */
async function waitForPong(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await ask(port, 'PING')).startsWith('+PONG')) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

export async function startAofRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
  ];
  let child;
  let exited;
  const spawnServer = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    exited = new Promise((resolve) => child.once('exit', resolve));
    await waitForPong(port, 30_000);
  };
  await spawnServer();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child.pid;
    },
    /**
     * SHUTDOWN (graceful: the AOF is flushed and fsynced), wait for the process to end, start
     * it again on the same port and directory, and wait until it answers (the AOF is loaded).
     * Resolves with the times of each step (ms since the epoch).
     */
    async restart() {
      const shutdownAt = Date.now();
      await ask(port, 'SHUTDOWN');
      await exited;
      const exitedAt = Date.now();
      await spawnServer();
      return { shutdownAt, exitedAt, readyAt: Date.now() };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
