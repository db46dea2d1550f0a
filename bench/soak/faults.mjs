// The two faults of the soak, each recording what happened when (seconds since the soak began).
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves when `url` answers 200 (polled every 100 ms), or after `timeoutMs` with false. */
async function becomesReady(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

/**
 * Restarts Redis gracefully (SHUTDOWN flushes the AOF; a new redis-server on the same port and
 * directory loads it), then waits until every instance's /readyz says its store is back.
 */
export async function restartRedis({ redis, instances, event }) {
  const times = await redis.restart();
  event('redis SHUTDOWN', times.shutdownAt);
  event('redis exited', times.exitedAt);
  event('redis answering again (AOF loaded)', times.readyAt);
  for (const i of instances) {
    const ok = await becomesReady(`http://127.0.0.1:${i.port}/readyz`, 30_000);
    event(`${i.name} ready again${ok ? '' : ' (NOT within 30 s)'}`, Date.now());
  }
  return times;
}

/**
 * Takes `name` out of the router, stops it with SIGTERM (the requests in flight finish there),
 * keeps it down `downSeconds`, starts it again on the same port and puts it back once /readyz
 * answers 200.
 */
export async function restartInstance({ router, instance, start, downSeconds, event }) {
  router.markDown(instance.name);
  const sigtermAt = Date.now();
  event(`${instance.name} taken out of rotation, SIGTERM`, sigtermAt);
  const { code, signal } = await instance.server.stop();
  const exitedAt = Date.now();
  event(`${instance.name} exited (${signal ?? code})`, exitedAt);
  await sleep(downSeconds * 1000);
  const startingAt = Date.now();
  event(`${instance.name} starting`, startingAt);
  instance.server = await start();
  const ok = await becomesReady(`http://127.0.0.1:${instance.port}/readyz`, 30_000);
  router.markUp(instance.name);
  const backAt = Date.now();
  event(`${instance.name} ready, back in rotation${ok ? '' : ' (readyz NOT 200 within 30 s)'}`, backAt);
  return { exitCode: code, signal, times: { sigtermAt, exitedAt, startingAt, backAt } };
}
