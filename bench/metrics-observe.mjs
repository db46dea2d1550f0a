// ns per observation: prom-client labelled children (what Gatehouse used before #17) against the
// bound series of src/http/fast-series.ts, alone and through the HTTP observer. `npm run build` first.
// node bench/metrics-observe.mjs [iterations]
import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../dist/http/fast-series.js';
import { createHttpObserver, createMetrics } from '../dist/http/metrics.js';

const N = Number(process.argv[2] ?? 2_000_000);
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LABELS = ['route', 'method', 'status'];
const durations = Float64Array.from({ length: 1024 }, (_, i) => (i % 97) / 20000);

function time(name, fn) {
  for (let i = 0; i < N / 10; i++) fn(durations[i & 1023]); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(durations[i & 1023]);
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${name.padEnd(58)} ${ns.toFixed(1)} ns`);
}

const registers = [new Registry()];
const counter = new Counter({ name: 'a_total', help: 'a', labelNames: LABELS, registers });
const histogram = new Histogram({ name: 'b', help: 'b', labelNames: LABELS, buckets: BUCKETS, registers });
const c = counter.labels('token', 'POST', '200');
const h = histogram.labels('token', 'POST', '200');
time('prom-client child: counter.inc + histogram.observe', (s) => {
  c.inc();
  h.observe(s);
});

const fastRegisters = [new Registry()];
const fc = new FastCounter({
  name: 'a_total',
  help: 'a',
  labelNames: LABELS,
  registers: fastRegisters,
}).labels('token', 'POST', '200');
const fh = new FastHistogram({
  name: 'b',
  help: 'b',
  labelNames: LABELS,
  buckets: BUCKETS,
  registers: fastRegisters,
}).labels('token', 'POST', '200');
time('fast series: counter.inc + histogram.observe', (s) => {
  fc.inc();
  fh.observe(s);
});

// One store operation: one histogram observation.
time('prom-client child: histogram.observe (store operation)', (s) => h.observe(s));
time('fast series: histogram.observe (store operation)', (s) => fh.observe(s));

// The per-request path as a whole: Map lookup by route/method/status, then both series.
const before = new Map();
time('before: HTTP observer (Map lookup + prom-client children)', (s) => {
  const key = `token POST 200`;
  let o = before.get(key);
  if (!o) {
    const cc = counter.labels('token', 'POST', '200');
    const hh = histogram.labels('token', 'POST', '200');
    o = (x) => (cc.inc(), hh.observe(x));
    before.set(key, o);
  }
  o(s);
});
const observe = createHttpObserver(createMetrics());
time('after: createHttpObserver (Map lookup + fast series)', (s) => observe('token', 'POST', 200, s));
