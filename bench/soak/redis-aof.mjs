// The soak's own redis-server: a free port, its own data directory, the append-only file on
// (fsync every second, Redis's default with AOF), and a graceful restart on the same port and
// directory (SHUTDOWN, which flushes the AOF, then a new process that loads it back).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askRedis, freePort, waitForRedis } from '../lib/processes.mjs';

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
    await waitForRedis(port, 30_000);
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
      await askRedis(port, 'SHUTDOWN');
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
