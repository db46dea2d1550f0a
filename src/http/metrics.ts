import cluster from 'node:cluster';
import Koa, { type Context, type Next } from 'koa';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { isStoreUnavailable, UnacknowledgedWriteError } from '../storage/store-unavailable.js';
import { requireBearerToken } from './bearer-token.js';
import { FastCounter, FastHistogram, type HistogramSeries } from './fast-series.js';

/**
 * Prometheus metrics (prom-client): HTTP traffic per route and status, tokens issued per grant
 * type, logins, rate-limit hits, store operations and errors, and the process's own metrics.
 * With WORKERS > 1 each worker keeps its own registry (label `worker`); a scrape reaches one.
 */
export function createMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: String(cluster.worker?.id ?? 0) });
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const registers = [registry];
  const labels = ['route', 'method', 'status'] as const;
  return {
    registry,
    // Observed on every request and store operation: series bound once (fast-series.ts), the
    // exposition unchanged.
    httpRequests: new FastCounter({
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests',
      labelNames: labels,
      registers,
    }),
    httpDuration: new FastHistogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: labels,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    tokensIssued: new Counter({
      name: 'gatehouse_tokens_issued_total',
      help: 'Successful token responses by grant type',
      labelNames: ['grant_type'],
      registers,
    }),
    logins: new Counter({
      name: 'gatehouse_logins_total',
      help: 'Sign-in attempts by result',
      labelNames: ['result'],
      registers,
    }),
    secondFactors: new Counter({
      name: 'gatehouse_second_factors_total',
      help: 'Second-factor attempts after the password, by method (totp, recovery-code) and result',
      labelNames: ['method', 'result'],
      registers,
    }),
    upstreamLogins: new Counter({
      name: 'gatehouse_upstream_logins_total',
      help: 'Sign-ins through upstream identity providers by upstream, result and failure reason',
      labelNames: ['upstream', 'result', 'reason'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Requests refused by a rate limit',
      labelNames: ['limit'],
      registers,
    }),
    awsRegistrationsRefused: new Counter({
      name: 'gatehouse_aws_registrations_refused_total',
      help: 'RegisterClient requests refused by a quota (per_ip, global)',
      labelNames: ['reason'],
      registers,
    }),
    backchannelLogouts: new Counter({
      name: 'gatehouse_backchannel_logout_total',
      help: 'Back-channel logout token deliveries by result (delivered, failed, timeout)',
      labelNames: ['result'],
      registers,
    }),
    storeOperations: new FastHistogram({
      name: 'gatehouse_store_operation_duration_seconds',
      help: 'Store operation latency',
      labelNames: ['operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2],
      registers,
    }),
    storeErrors: new Counter({
      name: 'gatehouse_store_errors_total',
      help: 'Store operations that failed',
      labelNames: ['operation'],
      registers,
    }),
    unacknowledgedConsumes: new Counter({
      name: 'gatehouse_store_unacknowledged_consumes_total',
      help: 'Single-use writes (consume, revocation, replay cache) refused because too few Redis replicas acknowledged them',
      labelNames: ['operation'],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Counts and times every request. The route label is bounded: oidc-provider's route name, the
 * matched router path, or "other" (never the raw path, which would let clients mint labels).
 */
export function createHttpMetrics(metrics: Metrics) {
  const observe = createHttpObserver(metrics);
  return async function httpMetrics(ctx: Context, next: Next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      const oidcRoute = (ctx as { oidc?: { route?: string } }).oidc?.route;
      const route = oidcRoute ?? (ctx as { _matchedRoute?: string })._matchedRoute ?? 'other';
      observe(String(route), ctx.method, ctx.status, (performance.now() - started) / 1000);
    }
  };
}

/**
 * Request count and duration per route, method and status, for the Koa middleware and the
 * metadata listener's fast path. The pair of series is looked up once per label set (bounded like
 * the labels themselves).
 */
export function createHttpObserver(metrics: Metrics) {
  const series = new Map<string, (seconds: number) => void>();
  return (route: string, method: string, status: number, seconds: number) => {
    const key = `${route} ${method} ${status}`;
    let observe = series.get(key);
    if (!observe) {
      const counter = metrics.httpRequests.labels(route, method, String(status));
      const histogram = metrics.httpDuration.labels(route, method, String(status));
      observe = (s) => {
        counter.inc();
        histogram.observe(s);
      };
      series.set(key, observe);
    }
    observe(seconds);
  };
}

/**
 * GET /metrics in the Prometheus text format, behind a bearer token when one is configured
 * (production refuses to start without one unless `open-metrics` is allowed, see
 * config/production-safety.ts).
 */
export function createMetricsEndpoint(metrics: Metrics, bearerToken: string | undefined) {
  const guard = bearerToken ? requireBearerToken(bearerToken, 'metrics') : undefined;
  return function metricsEndpoint(ctx: Context, next: Next) {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    return guard ? guard(ctx, () => serve(ctx)) : serve(ctx);
  };

  async function serve(ctx: Context) {
    ctx.set('cache-control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  }
}

/**
 * The app for METRICS_PORT: `GET /metrics` (behind METRICS_TOKEN when set) and nothing else, so
 * the operator can keep metrics off the public port by placement (e.g. 127.0.0.1 only).
 */
export function createMetricsApp(metrics: Metrics, bearerToken: string | undefined): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(createMetricsEndpoint(metrics, bearerToken));
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'invalid_request', error_description: 'this port serves GET /metrics only' };
  });
  return app;
}

/**
 * Store operation latency and failures, for instrumentStore. The series are looked up once per
 * operation and result; failures (rare) go through prom-client's counters directly.
 */
export function storeObserver(metrics: Metrics) {
  const series = new Map<string, HistogramSeries>();
  return {
    observe(operation: string, seconds: number, error?: unknown) {
      const failed = isStoreUnavailable(error);
      const key = `${operation} ${failed ? 'error' : 'ok'}`;
      let histogram = series.get(key);
      if (!histogram) {
        histogram = metrics.storeOperations.labels(operation, failed ? 'error' : 'ok');
        series.set(key, histogram);
      }
      histogram.observe(seconds);
      if (failed) metrics.storeErrors.inc({ operation });
      if (error instanceof UnacknowledgedWriteError) metrics.unacknowledgedConsumes.inc({ operation });
    },
  };
}
