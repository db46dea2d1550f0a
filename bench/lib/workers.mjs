// The worker model the bench's servers share with Gatehouse (WORKERS processes on one port through
// node:cluster): the primary forks the workers, prints "<name> ready" once all of them listen, and
// stops them on SIGTERM/SIGINT; with one worker the process serves by itself.
import cluster from 'node:cluster';

/** Runs `serve()` in each worker (or in this process); `serve` resolves once it listens. */
export async function runWorkers(name, serve) {
  const workers = Number(process.env.WORKERS ?? 1);
  if (workers > 1 && cluster.isPrimary) {
    let ready = 0;
    for (let i = 0; i < workers; i += 1) {
      cluster.fork().on('message', (message) => {
        if (message === 'ready' && ++ready === workers) process.stdout.write(`${name} ready\n`);
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
    return;
  }
  await serve();
  if (cluster.isPrimary) process.stdout.write(`${name} ready\n`);
  else process.send?.('ready');
}
