// Turns what the soak recorded into figures and the checks of issue #17 item 5, each met or not.
import { BUCKET_MS } from './traffic.mjs';

const round = (n, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (values) => values.reduce((a, b) => a + b, 0) / (values.length || 1);

function percentile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Least-squares slope of y over x. */
function slope(points) {
  const mx = mean(points.map((p) => p.x));
  const my = mean(points.map((p) => p.y));
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den ? num / den : 0;
}

/**
 * Memory of each process's life (the second instance has two): RSS averaged over the 15 s from
 * the reference time (minute 2, or 20 % into a shorter run; for a process started later, two
 * minutes after its start) against the average of its last 15 s. RSS also falls when V8 gives
 * memory back after a collection: growth is what this checks, a fall passes.
 */
function memoryGrowth(samples, seconds) {
  const lives = new Map();
  for (const s of samples)
    for (const [name, r] of Object.entries(s.rss)) {
      if (!r) continue;
      const key = `${name}:${r.pid}`;
      if (!lives.has(key)) lives.set(key, { instance: name, pid: r.pid, points: [] });
      lives.get(key).points.push({ t: s.t, bytes: r.bytes });
    }
  const reference = Math.min(120, 0.2 * seconds);
  return [...lives.values()].flatMap(({ instance, pid, points }) => {
    const start = points[0].t;
    const end = points.at(-1).t;
    const from = start <= reference ? reference : start + 120;
    if (end - from < 60) return [];
    const first = points.filter((p) => p.t >= from && p.t < from + 15).map((p) => p.bytes);
    const last = points.filter((p) => p.t > end - 15).map((p) => p.bytes);
    const mb = (b) => round(b / 2 ** 20);
    const growth = (mean(last) - mean(first)) / mean(first);
    return [
      {
        instance,
        pid,
        fromSecond: from,
        toSecond: end,
        fromMiB: mb(mean(first)),
        toMiB: mb(mean(last)),
        peakMiB: mb(Math.max(...points.map((p) => p.bytes))),
        growthPercent: round(growth * 100),
      },
    ];
  });
}

/** DBSIZE once the longest TTL has passed (from then on keys expire as fast as they come). */
function keyCount(samples, ttl, seconds) {
  const from = Math.min(Math.max(...Object.values(ttl)) + 10, seconds / 2);
  const points = samples
    .filter((s) => s.dbsize !== null && s.t >= from)
    .map((s) => ({ x: s.t, y: s.dbsize }));
  const perMinute = slope(points) * 60;
  const avg = mean(points.map((p) => p.y));
  const windowMinutes = points.length ? (points.at(-1).x - points[0].x) / 60 : 0;
  return {
    fromSecond: from,
    samples: points.length,
    mean: Math.round(avg),
    min: Math.min(...points.map((p) => p.y)),
    max: Math.max(...points.map((p) => p.y)),
    slopePerMinute: Math.round(perMinute),
    // The fitted change over the whole window, relative to the mean count.
    changePercent: avg ? round(((perMinute * windowMinutes) / avg) * 100) : 0,
  };
}

const countBy = (items, key) => {
  const counts = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
};

export function summarize(run) {
  const { recorder, samples, options, redisTimes, refreshSample, interrupted } = run;
  const seconds = options.seconds;
  const buckets = recorder.buckets.map((b, i) => ({
    t: (i * BUCKET_MS) / 1000,
    rate: round(b.n / (BUCKET_MS / 1000)),
    p50: round(percentile(b.latencies, 0.5)),
    p99: round(percentile(b.latencies, 0.99)),
    ok: b.ok,
    s503: b.s503,
    s5xx: b.s5xx,
    conn: b.conn,
    unexpected: b.unexpected,
    shed: b.shed,
  }));
  const sum = (key) => buckets.reduce((n, b) => n + b[key], 0);
  const allLatencies = recorder.buckets.flatMap((b) => b.latencies);
  // The documented 503: from SHUTDOWN until Redis answers again, plus 5 s for the instances'
  // reconnection (their retry strategy waits up to a second between attempts).
  const window = { from: redisTimes.shutdownAt - 0.5, to: redisTimes.readyAt + 5 };
  const inWindow = recorder.outages.filter((o) => o.t >= window.from && o.t <= window.to);
  const outside = recorder.outages.filter((o) => o.t < window.from || o.t > window.to);
  // Requests cut off by the instance restart: from SIGTERM until 5 s after it is back.
  const restart = run.instanceRestart.times;
  const byRestart = recorder.connectionErrors.filter(
    (e) => e.t >= restart.sigtermAt - 0.5 && e.t <= restart.backAt + 5,
  ).length;
  // A 503 outside the outage: Redis was up, so a command outlived redis.commandTimeoutMs (1.5 s
  // by default), which on this machine happens when the process is starved of CPU. Those in a
  // bucket whose p99 latency exceeded that timeout are counted apart as a hint.
  const slowBucket = (t) => (buckets[Math.floor((t * 1000) / BUCKET_MS)]?.p99 ?? 0) >= 1500;
  const outsideInSlowBuckets = outside.filter((o) => slowBucket(o.t)).length;
  const otherConnectionErrors = recorder.connectionErrors.filter(
    (e) => e.t < restart.sigtermAt - 0.5 || e.t > restart.backAt + 5,
  );
  const totals = {
    requests: allLatencies.length,
    ok: sum('ok'),
    status503: recorder.outages.length,
    status503InOutage: inWindow.length,
    status503Outside: outside.length,
    status503OutsideInBucketsWithP99Over1500ms: outsideInSlowBuckets,
    other5xx: sum('s5xx'),
    connectionErrors: sum('conn'),
    connectionErrorsInInstanceRestart: byRestart,
    unexpected: sum('unexpected'),
    shed: sum('shed'),
    p50: round(percentile(allLatencies, 0.5)),
    p99: round(percentile(allLatencies, 0.99)),
    achievedRate: round(allLatencies.length / seconds),
  };
  const outage = {
    redisDownSeconds: round(redisTimes.readyAt - redisTimes.shutdownAt, 2),
    first503: inWindow[0]?.t,
    last503: inWindow.at(-1)?.t,
    status503: inWindow.length,
  };
  const memory = memoryGrowth(samples, seconds);
  const keys = { ...keyCount(samples, options.ttl, seconds), families: run.keyFamilies };
  // The signing keys and the record naming the store's mode are kept for good, by design.
  const permanent = /:rec:(signing-keys|mode)$/;
  const withoutTtl = Object.entries(run.keyFamilies ?? {}).filter(
    ([name, f]) => f.withoutTtl > 0 && !permanent.test(name),
  );
  const cpu = Object.fromEntries(
    Object.keys(samples[0]?.cpu ?? {}).map((k) => [k, round(mean(samples.map((s) => s.cpu[k] ?? 0)), 2)]),
  );
  // Samples during which other processes used more than half a core: the figures then say as
  // much about the machine as about Gatehouse.
  const disturbed = samples.filter((s) => (s.cpu.other ?? 0) > 0.5).length;
  const machineNoise = {
    samplesWithOtherAboveHalfCore: disturbed,
    samples: samples.length,
    percent: Math.round((disturbed / (samples.length || 1)) * 100),
  };
  const checks = [
    {
      name: 'no 5xx but the documented 503 while Redis is down',
      met: totals.other5xx === 0 && totals.status503Outside === 0,
      measured: `${totals.other5xx} other 5xx; ${totals.status503InOutage} × 503 between ${outage.first503 ?? '–'} s and ${outage.last503 ?? '–'} s (Redis down ${outage.redisDownSeconds} s); ${totals.status503Outside} × 503 outside the outage${outside.length ? ` (${outsideInSlowBuckets} of them in 5-s buckets whose p99 exceeded the 1.5 s Redis command timeout)` : ''}`,
    },
    {
      name: 'no request dropped while the second instance restarts',
      met: byRestart === 0,
      measured: `${byRestart} connection errors between its SIGTERM (${restart.sigtermAt} s) and 5 s after it was back (${restart.backAt} s)`,
    },
    {
      name: 'no connection errors at other times',
      met: totals.connectionErrors === byRestart,
      measured: `${totals.connectionErrors - byRestart}${
        otherConnectionErrors.length
          ? ` (${Object.entries(countBy(otherConnectionErrors, (e) => e.error))
              .map(([k, n]) => `${n} × ${k}`)
              .join(', ')}; the load generator gives up after 20 s)`
          : ''
      }`,
    },
    {
      name: 'every other answer as expected',
      met: totals.unexpected === 0,
      measured: `${totals.unexpected} unexpected of ${totals.requests}`,
    },
    {
      name: 'no lost refresh token: each issued before the restart redeems once after it',
      met:
        refreshSample.sampled > 0 && refreshSample.lost === 0 && refreshSample.secondRedemptionAccepted === 0,
      measured: `${refreshSample.redeemedOnce} of ${refreshSample.sampled} redeemed once, ${refreshSample.lost} lost, ${refreshSample.expiredBeforeRedemption} expired before the check; second redemption refused ${refreshSample.secondRedemptionRefused}, accepted ${refreshSample.secondRedemptionAccepted}`,
    },
    {
      name: 'refresh tokens whose request got a 503 still redeem afterwards',
      met: interrupted.refusedAfterwards === 0 && interrupted.other.length === 0,
      measured: `${interrupted.redeemedAfterwards} of ${interrupted.interrupted} redeemed, ${interrupted.refusedAfterwards} refused${interrupted.refusedInterruptedAt.length ? ` (their 503s at ${interrupted.refusedInterruptedAt.map((x) => `${x.t} s`).join(', ')})` : ''}, ${interrupted.expiredBeforeCheck} expired before the check`,
    },
    {
      name: 'resident memory growth < 10 % from minute 2 to the end',
      met: memory.length > 0 && memory.every((m) => m.growthPercent < 10),
      measured: memory
        .map((m) => `${m.instance} (pid ${m.pid}) ${m.fromMiB} → ${m.toMiB} MiB (${m.growthPercent} %)`)
        .join('; '),
    },
    {
      // Accumulation is what a missing TTL would show; a fall follows the rate of writes.
      name: 'Redis key count flat, not growing (TTLs honoured)',
      met: keys.samples > 2 && keys.changePercent < 10 && withoutTtl.length === 0,
      measured: `from ${keys.fromSecond} s: mean ${keys.mean} keys (${keys.min}–${keys.max}), slope ${keys.slopePerMinute}/min (${keys.changePercent} % over the window); at the end, keys without a TTL (besides the signing keys and the mode record): ${withoutTtl.map(([name, f]) => `${name} ${f.withoutTtl}`).join(', ') || 'none'}`,
    },
  ];
  return {
    kind: 'soak',
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: run.options,
    machine: run.machine,
    capacity: round(run.capacity),
    probeErrors: run.probeErrors,
    targetRate: run.rate,
    totals,
    outage,
    checks,
    refreshSample,
    interrupted,
    instanceRestart: run.instanceRestart,
    memory,
    keys,
    cpu,
    machineNoise,
    starved: run.starved,
    mintFailures: run.mintFailures,
    events: run.events,
    samplesOf503: recorder.outages.slice(0, 200),
    status503Outside: outside.slice(0, 2000),
    connectionErrors: recorder.connectionErrors.slice(0, 2000),
    unexpectedSamples: recorder.samples,
    buckets,
    samples,
  };
}
