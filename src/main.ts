import { startGatehouse } from './gatehouse.js';
import { ConfigError } from './config/load-config.js';
import { isStoreUnavailable } from './storage/store-unavailable.js';
import { DEMO_CLIENT_ID, DEMO_USERNAME } from './config/production-safety.js';

/** Process entry: the only file with process-level side effects. */
async function main() {
  let gatehouse;
  try {
    gatehouse = await startGatehouse({ env: process.env, host: '0.0.0.0' });
  } catch (err) {
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
  const { config, logger } = gatehouse;
  logger.info(
    { issuer: config.issuer, store: gatehouse.store.kind, env: config.nodeEnv },
    'Gatehouse is listening',
  );

  const demoClient = config.clients.find((c) => c.client_id === DEMO_CLIENT_ID);
  const demoUser = config.users.find((u) => u.username === DEMO_USERNAME);
  if (demoClient && demoUser) {
    process.stdout.write(
      [
        '',
        `  Gatehouse is running at ${config.issuer}`,
        `  Discovery:   ${config.issuer}/.well-known/openid-configuration`,
        `  Demo client: ${demoClient.client_id} / ${demoClient.client_secret ?? '(public)'}`,
        `  Demo user:   ${demoUser.username} / ${demoUser.password}`,
        `  Try it:      open ${config.issuer}/demo in a browser and sign in as the demo user`,
        '',
      ].join('\n') + '\n',
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gatehouse.server.close(() => {
      void gatehouse.close().then(() => process.exit(0));
    });
    gatehouse.server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
