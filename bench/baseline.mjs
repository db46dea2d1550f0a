// The baseline server: bare oidc-provider (see lib/baseline-provider.mjs), WORKERS processes
// sharing PORT through node:cluster like Gatehouse's. Settings come from the JSON file named by
// BENCH_SETTINGS. Prints "baseline ready" once every worker listens.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createBaselineApp, createBaselineProvider } from './lib/baseline-provider.mjs';

const settings = JSON.parse(readFileSync(process.env.BENCH_SETTINGS, 'utf8'));
const workers = Number(process.env.WORKERS ?? 1);
const port = Number(process.env.PORT);

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork().on('message', (message) => {
      if (message === 'ready' && ++ready === workers) process.stdout.write('baseline ready\n');
    });
  }
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { provider, redis } = createBaselineProvider({
    ...settings.baseline,
    issuer: `http://127.0.0.1:${port}`,
    users: settings.users,
  });
  const server = createServer(createBaselineApp({ provider, users: settings.users }));
  server.listen(port, '127.0.0.1', () => {
    if (cluster.isPrimary) process.stdout.write('baseline ready\n');
    else process.send?.('ready');
  });
  const stop = () => {
    server.close(() => {
      redis.disconnect();
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
