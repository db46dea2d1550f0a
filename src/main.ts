import cluster from 'node:cluster';
import { startGatehouse, type RunningGatehouse } from './gatehouse.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import type { Config } from './config/schema.js';
import { isStoreUnavailable } from './storage/store-unavailable.js';
import { DEMO_CLIENT_ID, DEMO_USERNAME } from './config/production-safety.js';

/**
 * Process entry: the only file with process-level side effects. With WORKERS > 1 the primary
 * forks that many workers sharing the port (node:cluster) and the store, replaces a worker
 * that dies, and forwards SIGTERM/SIGINT for a graceful stop.
 */
async function main() {
  let config: Readonly<Config>;
  try {
    config = loadConfig({ env: process.env });
  } catch (err) {
    fail(err);
  }
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }
  let gatehouse: RunningGatehouse;
  try {
    gatehouse = await startGatehouse({ env: process.env, host: '0.0.0.0' });
  } catch (err) {
    fail(err);
  }
  const { logger } = gatehouse;
  logger.info(
    { issuer: config.issuer, store: gatehouse.store.kind, env: config.nodeEnv },
    'Gatehouse is listening',
  );
  if (cluster.isPrimary) printBanner(config);
  else process.send?.('ready');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { signal, graceSeconds: config.http.shutdownGraceSeconds },
      'shutting down: finishing in-flight requests',
    );
    const force = setTimeout(() => {
      logger.warn('grace period over: closing remaining connections');
      gatehouse.server.closeAllConnections();
    }, config.http.shutdownGraceSeconds * 1000);
    force.unref();
    gatehouse.server.close(() => {
      clearTimeout(force);
      void gatehouse.close().then(() => process.exit(0));
    });
    // Keep-alive connections go idle as their last response ends: close them as they do.
    setInterval(() => gatehouse.server.closeIdleConnections(), 100).unref();
    gatehouse.server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function runPrimary(config: Readonly<Config>) {
  let stopping = false;
  let ready = 0;
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message) => {
      if (message === 'ready' && ++ready === config.workers) printBanner(config);
    });
  };
  for (let i = 0; i < config.workers; i += 1) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(
      `gatehouse: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
    );
    fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function printBanner(config: Readonly<Config>) {
  const demoClient = config.clients.find((c) => c.client_id === DEMO_CLIENT_ID);
  const demoUser = config.users.find((u) => u.username === DEMO_USERNAME);
  const lines = [
    '',
    `  Gatehouse is running at ${config.issuer}${config.workers > 1 ? ` (${config.workers} workers)` : ''}`,
  ];
  lines.push(`  Discovery:   ${config.issuer}/.well-known/openid-configuration`);
  if (demoClient && demoUser) {
    lines.push(
      `  Demo client: ${demoClient.client_id} / ${demoClient.client_secret ?? '(public)'}`,
      `  Demo user:   ${demoUser.username} / ${demoUser.password}`,
      `  Try it:      open ${config.issuer}/demo in a browser and sign in as the demo user`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`gatehouse: configuration error\n${err.message}\n`);
  } else if (isStoreUnavailable(err)) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    process.stderr.write(`gatehouse: cannot reach the store (REDIS_URL)${cause}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
}

void main();
