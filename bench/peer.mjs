// The peer: oauth2-mock-server from the npm registry, WORKERS processes sharing the ports through
// node:cluster. Two servers per process: one signing with the bench's RS256 key (PORT), one with
// its ES256 key (PORT_ES256), for the ID-token scenarios. Prints "peer ready" once all listen.
import { readFileSync } from 'node:fs';
import { OAuth2Server } from 'oauth2-mock-server';
import { runWorkers } from './lib/workers.mjs';

const settings = JSON.parse(readFileSync(process.env.BENCH_SETTINGS, 'utf8'));

await runWorkers('peer', async () => {
  const start = async (port, alg) => {
    const server = new OAuth2Server();
    await server.issuer.keys.add(settings.baseline.jwks.keys.find((k) => k.alg === alg));
    server.issuer.url = `http://127.0.0.1:${port}`;
    await server.start(port, '127.0.0.1');
  };
  await start(Number(process.env.PORT), 'RS256');
  await start(Number(process.env.PORT_ES256), 'ES256');
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
});
