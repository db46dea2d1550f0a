// Load generation: autocannon as a library, in this process. Every response is checked against
// what the scenario expects; anything else counts as an error (with a sample kept for the report).
import autocannon from 'autocannon';

/**
 * Runs `requests` (autocannon request objects, possibly a multi-step sequence) against `url` for
 * `duration` seconds over `connections` keep-alive connections.
 *
 * `check(status, body, headers, context, step)` says whether a response is the expected one.
 * `completes(step)` says which step ends one unit of work (the last one of a login round trip);
 * rates and, for sequences, latencies are per unit of work.
 */
export async function runLoad({ url, duration, connections, requests, check, onSample }) {
  let unexpected = 0;
  let sample;
  let units = 0;
  const unitLatencies = [];
  const sequence = requests.length > 1;
  const steps = requests.map((request, step) => ({
    ...request,
    setupRequest(req, context) {
      if (sequence && step === 0) context.started = performance.now();
      return request.setupRequest ? request.setupRequest(req, context) : req;
    },
    onResponse(status, body, context, headers) {
      const ok = check(status, body, headers, context, step);
      if (!ok) {
        unexpected += 1;
        sample ??= { step, status, body: String(body).slice(0, 300) };
        context.failed = true;
      } else {
        request.onResponse?.(status, body, context, headers);
      }
      if (ok && step === requests.length - 1) {
        units += 1;
        if (sequence) unitLatencies.push(performance.now() - context.started);
      }
    },
  }));
  const sampler = onSample ? setInterval(onSample, 250) : undefined;
  let result;
  try {
    result = await autocannon({ url, connections, duration, requests: steps, timeout: 20, sampleInt: 250 });
  } finally {
    if (sampler) clearInterval(sampler);
  }
  const seconds = result.duration || duration;
  const latency = sequence
    ? percentiles(unitLatencies)
    : { p50: result.latency.p50, p99: result.latency.p99 };
  return {
    rate: units / seconds,
    httpRequestsPerSecond: result.requests.total / seconds,
    units,
    seconds,
    p50: latency.p50,
    p99: latency.p99,
    errors: result.errors + unexpected,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    unexpected,
    sample,
  };
}

function percentiles(values) {
  if (values.length === 0) return { p50: 0, p99: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: Math.round(at(0.5) * 10) / 10, p99: Math.round(at(0.99) * 10) / 10 };
}
