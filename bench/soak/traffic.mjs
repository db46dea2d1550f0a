// The soak's load: keep-alive HTTP to two Gatehouse instances through a tiny round-robin router
// that skips an instance marked down (as a load balancer does once a target is deregistered for
// a restart), a closed-loop driver to measure capacity and an open-loop driver that sends at a
// fixed rate, and a recorder that keeps every answer per 5-second bucket.
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export const BUCKET_MS = 5000;

/** One request over a keep-alive agent; resolves with status and body, or with a connection error. */
function send(instance, { method, path, headers, body }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: instance.port,
        method,
        path,
        headers,
        agent: instance.agent,
        timeout: 20_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - started,
          }),
        );
        res.on('error', (err) =>
          resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - started }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) =>
      resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - started }),
    );
    req.end(body);
  });
}

/**
 * A connection pool to one instance, as a load balancer keeps: no per-instance queue (a request
 * gets a connection at once, a new one if all are busy), so taking an instance out of rotation
 * leaves nothing waiting for it; FIFO reuse keeps every pooled connection busy (with LIFO the
 * surplus ones idle until the server's keep-alive timeout closes them, and a request sent on one
 * just then, after a pause of the load generator's own event loop, meets a reset).
 */
const newAgent = () => new Agent({ keepAlive: true, scheduling: 'fifo' });

/**
 * Round robin over the instances that are up. `markDown` before stopping an instance (new
 * requests go to the others; those in flight finish there), `markUp` once it is ready again.
 */
export function createRouter(instances) {
  for (const i of instances) {
    i.up = true;
    i.agent = newAgent();
  }
  let next = 0;
  return {
    instances,
    pick() {
      for (let k = 0; k < instances.length; k += 1) {
        const i = instances[next++ % instances.length];
        if (i.up) return i;
      }
      throw new Error('no instance is up');
    },
    markDown(name) {
      const i = instances.find((x) => x.name === name);
      i.up = false;
    },
    markUp(name) {
      const i = instances.find((x) => x.name === name);
      i.agent.destroy();
      i.agent = newAgent();
      i.up = true;
    },
    async request(req) {
      const instance = this.pick();
      return { ...(await send(instance, req)), instance: instance.name };
    },
    close() {
      for (const i of instances) i.agent.destroy();
    },
  };
}

/**
 * Every answer, per 5-second bucket from `t0`: how many, latencies (for p50/p99), 503s,
 * other 5xx, connection errors, unexpected answers (with the first samples), per operation.
 */
export function createRecorder(t0) {
  const buckets = [];
  const samples = [];
  const outages = []; // each 503: when, which operation, which instance
  const connectionErrors = []; // the same for each request that got no answer
  const bucket = (now) => {
    const index = Math.floor((now - t0) / BUCKET_MS);
    while (buckets.length <= index)
      buckets.push({ n: 0, ok: 0, s503: 0, s5xx: 0, conn: 0, unexpected: 0, shed: 0, latencies: [] });
    return buckets[index];
  };
  return {
    t0,
    buckets,
    samples,
    outages,
    connectionErrors,
    /** `verdict`: 'ok' or 'unexpected' (decided by the operation; 5xx and connection errors here). */
    record(op, result, verdict) {
      const now = Date.now();
      const b = bucket(now);
      b.n += 1;
      b.latencies.push(result.ms);
      let kind = verdict;
      if (result.status === 0) kind = 'conn';
      else if (result.status === 503) kind = 's503';
      else if (result.status >= 500) kind = 's5xx';
      b[kind] += 1;
      if (kind === 's503' && outages.length < 20_000)
        outages.push({ t: (now - t0) / 1000, op, instance: result.instance });
      if (kind === 'conn')
        connectionErrors.push({ t: (now - t0) / 1000, op, instance: result.instance, error: result.error });
      if (kind !== 'ok' && kind !== 's503' && samples.length < 50)
        samples.push({
          t: (now - t0) / 1000,
          op,
          instance: result.instance,
          status: result.status,
          error: result.error,
          body: result.body?.slice(0, 300),
        });
      return kind;
    },
    shed() {
      bucket(Date.now()).shed += 1;
    },
  };
}

/** Closed loop: `concurrency` requests always in flight for `seconds`; resolves with completed/s. */
export async function runClosedLoop({ seconds, concurrency, issue }) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        if (await issue()) done += 1;
        else await sleep(5); // nothing to send (a supply ran dry): do not spin
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/**
 * Open loop: starts `rate` requests a second until `stop()` is called, whatever the answers'
 * latency (up to `maxInFlight`; beyond that a request is shed and counted, not queued). Latency is
 * measured from the moment a request is sent.
 */
export function startOpenLoop({ rate, issue, recorder, maxInFlight = 512 }) {
  let inFlight = 0;
  let sent = 0;
  let running = true;
  const started = performance.now();
  const pending = new Set();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate) - sent;
    for (let k = 0; k < due; k += 1) {
      sent += 1;
      if (!running) return;
      if (inFlight >= maxInFlight) {
        recorder.shed();
        continue;
      }
      inFlight += 1;
      // issue() records every answer itself; a throw would be a bug in the soak, not an answer.
      const p = issue()
        .catch((err) => process.stdout.write(`soak: request failed in the load generator: ${err.stack}\n`))
        .finally(() => {
          inFlight -= 1;
          pending.delete(p);
        });
      pending.add(p);
    }
  }, 5);
  return {
    get inFlight() {
      return inFlight;
    },
    async stop() {
      running = false;
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}
