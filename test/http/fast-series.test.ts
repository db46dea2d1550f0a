import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/http/fast-series.js';
import { createHttpObserver, createMetrics, storeObserver } from '../../src/http/metrics.js';
import { UnacknowledgedWriteError } from '../../src/storage/store-unavailable.js';

/**
 * The fast series must be invisible to a scraper: for the same observations, /metrics reads
 * exactly what prom-client's own Counter and Histogram produce. Each test builds both.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LABELS = ['route', 'method', 'status'] as const;

function registries() {
  const plain = new Registry();
  const fast = new Registry();
  for (const registry of [plain, fast]) registry.setDefaultLabels({ worker: '3' });
  const plainCounter = new Counter({
    name: 'x_requests_total',
    help: 'Requests',
    labelNames: LABELS,
    registers: [plain],
  });
  const plainHistogram = new Histogram({
    name: 'x_duration_seconds',
    help: 'Latency\\with "odd"\nhelp',
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [plain],
  });
  const fastCounter = new FastCounter({
    name: 'x_requests_total',
    help: 'Requests',
    labelNames: LABELS,
    registers: [fast],
  });
  const fastHistogram = new FastHistogram({
    name: 'x_duration_seconds',
    help: 'Latency\\with "odd"\nhelp',
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [fast],
  });
  const observe = (route: string, method: string, status: string, seconds: number) => {
    plainCounter.labels(route, method, status).inc();
    plainHistogram.labels(route, method, status).observe(seconds);
    fastCounter.labels(route, method, status).inc();
    fastHistogram.labels(route, method, status).observe(seconds);
  };
  return { plain, fast, observe, plainCounter, plainHistogram, fastCounter, fastHistogram };
}

// Values on, between, below and above the bounds; label values needing escapes; repeated series.
const OBSERVATIONS: [string, string, string, number][] = [
  ['token', 'POST', '200', 0.0123],
  ['jwks', 'GET', '200', 0.001],
  ['token', 'POST', '200', 0.25],
  ['discovery', 'GET', '304', 0],
  ['token', 'POST', '400', 7.5],
  ['we"ird\\route\nname', 'GET', '404', 0.0004],
  ['jwks', 'GET', '200', 2.5],
  ['token', 'POST', '200', 0.1 + 0.2],
  ['jwks', 'HEAD', '200', -1],
];

describe('fast counter and histogram series', () => {
  it('expose the same text as prom-client for the same observations', async () => {
    const { plain, fast, observe } = registries();
    expect(await fast.metrics()).toBe(await plain.metrics());
    for (const [route, method, status, seconds] of OBSERVATIONS) observe(route, method, status, seconds);
    const text = await fast.metrics();
    expect(text).toContain(
      'x_duration_seconds_bucket{le="+Inf",worker="3",route="token",method="POST",status="200"} 3',
    );
    expect(text).toBe(await plain.metrics());
  });

  it('list series in order of first observation, not of labels()', async () => {
    const { plain, fast, plainCounter, plainHistogram, fastCounter, fastHistogram, observe } = registries();
    const early = [
      plainCounter.labels('late', 'GET', '200'),
      plainHistogram.labels('late', 'GET', '200'),
      fastCounter.labels('late', 'GET', '200'),
      fastHistogram.labels('late', 'GET', '200'),
    ] as const;
    observe('first', 'GET', '200', 0.01);
    early[0].inc();
    early[1].observe(0.02);
    early[2].inc();
    early[3].observe(0.02);
    const text = await fast.metrics();
    expect(text.indexOf('route="first"')).toBeLessThan(text.indexOf('route="late"'));
    expect(text).toBe(await plain.metrics());
  });

  it('match prom-client in getMetricsAsJSON and after resetMetrics', async () => {
    const { plain, fast, observe } = registries();
    for (const [route, method, status, seconds] of OBSERVATIONS) observe(route, method, status, seconds);
    const sortKeys = (value: unknown) =>
      JSON.parse(JSON.stringify(value, (_k, v: unknown) => sorted(v))) as unknown;
    expect(sortKeys(await fast.getMetricsAsJSON())).toEqual(sortKeys(await plain.getMetricsAsJSON()));
    plain.resetMetrics();
    fast.resetMetrics();
    expect(await fast.metrics()).toBe(await plain.metrics());
    observe('token', 'POST', '200', 0.003);
    expect(await fast.metrics()).toBe(await plain.metrics());
  });

  it('drops non-finite values instead of throwing into the request being timed', async () => {
    const { fast, fastHistogram } = registries();
    expect(() => fastHistogram.labels('token', 'POST', '200').observe(Number.NaN)).not.toThrow();
    expect(await fast.metrics()).not.toContain('x_duration_seconds_count');
    expect(() => fastHistogram.labels('token', 'POST')).toThrow(/Invalid number of arguments/);
  });
});

describe('createMetrics hot-path metrics', () => {
  it('expose what the prom-client definitions they replace would, for the same observations', async () => {
    const metrics = createMetrics();
    const plain = new Registry();
    plain.setDefaultLabels({ worker: '0' });
    const registers = [plain];
    const httpRequests = new Counter({
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests',
      labelNames: LABELS,
      registers,
    });
    const httpDuration = new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers,
    });
    const storeOperations = new Histogram({
      name: 'gatehouse_store_operation_duration_seconds',
      help: 'Store operation latency',
      labelNames: ['operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2],
      registers,
    });
    const observeHttp = createHttpObserver(metrics);
    const store = storeObserver(metrics);
    for (const [route, method, status, seconds] of OBSERVATIONS) {
      observeHttp(route, method, Number(status), seconds);
      httpRequests.labels(route, method, status).inc();
      httpDuration.labels(route, method, status).observe(seconds);
    }
    const failure = new UnacknowledgedWriteError(new Error('down'), 'too few replicas');
    for (const [operation, seconds, error] of [
      ['find', 0.0007, undefined],
      ['upsert', 0.02, undefined],
      ['find', 3, failure],
      ['find', 0.0005, undefined],
    ] as const) {
      store.observe(operation, seconds, error);
      storeOperations.labels(operation, error ? 'error' : 'ok').observe(seconds);
    }
    for (const name of [
      'gatehouse_http_requests_total',
      'gatehouse_http_request_duration_seconds',
      'gatehouse_store_operation_duration_seconds',
    ]) {
      expect(await metrics.registry.getSingleMetricAsString(name)).toBe(
        await plain.getSingleMetricAsString(name),
      );
    }
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/gatehouse_store_errors_total\{operation="find",worker="0"\} 1/);
    expect(text).toMatch(/gatehouse_store_unacknowledged_consumes_total\{operation="find",worker="0"\} 1/);
  });
});

function sorted(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}
