import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Asks the OS for a free TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Ends the process with SIGKILL (a crash: nothing flushed, nothing handed over). */
  crash(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process: it neither reads nor answers meanwhile. */
  freeze(): void;
  thaw(): void;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

/**
 * A private redis-server for one test file: its own port and data directory, never the
 * machine's shared Redis. `.ci/run` makes sure redis-server is installed.
 */
export async function startRedisServer(
  options: { appendonly?: boolean; args?: string[]; port?: number; sentinelConfig?: string } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let child: ChildProcess | undefined;

  const args = options.sentinelConfig
    ? [options.sentinelConfig, '--sentinel', '--logfile', join(dir, 'sentinel.log')]
    : [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        options.appendonly ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        '--daemonize',
        'no',
        '--logfile',
        join(dir, 'redis.log'),
        ...(options.args ?? []),
      ];

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      // A second child on the same port would lose the first one, which then outlives the test
      // run and keeps jest from exiting.
      if (child && child.exitCode === null && child.signalCode === null)
        throw new Error(`redis-server on port ${port} is already running`);
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitForPort(port, 5000);
    },
    async stop() {
      await end('SIGTERM');
    },
    async crash() {
      await end('SIGKILL');
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  async function end(signal: NodeJS.Signals) {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      // Redis 7 may wait up to shutdown-timeout for lagging replicas on SIGTERM, and a stuck
      // shutdown must not hang a test's teardown: it is killed after two seconds.
      const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      // A frozen process would never handle SIGTERM.
      proc.kill('SIGCONT');
      proc.kill(signal);
    });
  }
  await server.start();
  return server;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.write('PING\r\n');
        socket.once('data', (data: Buffer) => {
          socket.destroy();
          resolve(data.toString().startsWith('+PONG'));
        });
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not start on port ${port}`);
}
