// The peer: oauth2-mock-server from the npm registry, WORKERS processes sharing the ports through
// node:cluster. Two servers per process: one signing with the bench's RS256 key (PORT), one with
// its ES256 key (PORT_ES256), for the ID-token scenarios. Prints "peer ready" once all listen.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { OAuth2Server } from 'oauth2-mock-server';

const settings = JSON.parse(readFileSync(process.env.BENCH_SETTINGS, 'utf8'));
const workers = Number(process.env.WORKERS ?? 1);

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork().on('message', (message) => {
      if (message === 'ready' && ++ready === workers) process.stdout.write('peer ready\n');
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
  const start = async (port, alg) => {
    const server = new OAuth2Server();
    await server.issuer.keys.add(settings.baseline.jwks.keys.find((k) => k.alg === alg));
    server.issuer.url = `http://127.0.0.1:${port}`;
    await server.start(port, '127.0.0.1');
  };
  await start(Number(process.env.PORT), 'RS256');
  await start(Number(process.env.PORT_ES256), 'ES256');
  if (cluster.isPrimary) process.stdout.write('peer ready\n');
  else process.send?.('ready');
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
