// The baseline server: bare oidc-provider (see lib/baseline-provider.mjs), WORKERS processes
// sharing PORT through node:cluster like Gatehouse's. Settings come from the JSON file named by
// BENCH_SETTINGS. Prints "baseline ready" once every worker listens.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createBaselineApp, createBaselineProvider } from './lib/baseline-provider.mjs';
import { runWorkers } from './lib/workers.mjs';

const settings = JSON.parse(readFileSync(process.env.BENCH_SETTINGS, 'utf8'));
const port = Number(process.env.PORT);

await runWorkers('baseline', async () => {
  const { provider, redis } = createBaselineProvider({
    ...settings.baseline,
    // Through the bench's round-trip counter when it sets one (the minter connects directly).
    redisUrl: process.env.BENCH_REDIS_URL ?? settings.baseline.redisUrl,
    issuer: `http://127.0.0.1:${port}`,
    users: settings.users,
  });
  const server = createServer(createBaselineApp({ provider, users: settings.users }));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = () => {
    server.close(() => {
      redis.disconnect();
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
