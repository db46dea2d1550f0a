import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { freePort } from '../support/redis-server.js';

/**
 * Trust boundary: `/metrics`, the operators' door. Its series name routes, clients' traffic and
 * store errors; in production nobody else may read it.
 */
const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com',
  REDIS_URL: 'redis://127.0.0.1:1',
  COOKIE_KEYS: 'a-production-cookie-key-0123456789',
  GATEHOUSE_ALLOW_INSECURE: 'demo-accounts,plain-passwords',
};
const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics in production', () => {
  it('refuses to start with metrics on and no METRICS_TOKEN, naming the fixes', () => {
    let refused: unknown;
    try {
      loadConfig({ env: PRODUCTION });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      'METRICS_TOKEN: NODE_ENV=production serves /metrics only behind a bearer token (set METRICS_TOKEN, or METRICS_PORT on a loopback METRICS_HOST, or metrics.enabled false, or GATEHOUSE_ALLOW_INSECURE=open-metrics)',
    );
  });

  it('starts with METRICS_TOKEN, with metrics disabled, or with the open-metrics opt-in', () => {
    expect(loadConfig({ env: { ...PRODUCTION, METRICS_TOKEN: TOKEN } }).metricsToken).toBe(TOKEN);
    expect(loadConfig({ env: PRODUCTION, overrides: { metrics: { enabled: false } } }).production).toBe(true);
    const open = {
      ...PRODUCTION,
      GATEHOUSE_ALLOW_INSECURE: `${PRODUCTION.GATEHOUSE_ALLOW_INSECURE},open-metrics`,
    };
    expect(loadConfig({ env: open }).allowInsecure.has('open-metrics')).toBe(true);
  });

  it('starts with METRICS_PORT on a loopback address, but not on a public one without the token', () => {
    expect(loadConfig({ env: { ...PRODUCTION, METRICS_PORT: '9464' } }).metricsHost).toBe('127.0.0.1');
    expect(() =>
      loadConfig({ env: { ...PRODUCTION, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' } }),
    ).toThrow(/^METRICS_TOKEN: NODE_ENV=production serves \/metrics only behind a bearer token/);
    expect(
      loadConfig({
        env: { ...PRODUCTION, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0', METRICS_TOKEN: TOKEN },
      }).metricsPort,
    ).toBe(9464);
  });

  it('refuses a METRICS_TOKEN too short to be a secret', () => {
    expect(() => loadConfig({ env: { ...PRODUCTION, METRICS_TOKEN: 'short' } })).toThrow(
      /METRICS_TOKEN: use at least 16 characters/,
    );
  });
});

describe('/metrics behind METRICS_TOKEN', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => gh?.stop());

  it.each([
    ['no credentials', {}],
    ['a wrong token', { authorization: `Bearer ${TOKEN.slice(0, -1)}x` }],
    ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, 8)}` }],
    ['the token with another scheme', { authorization: `Basic ${TOKEN}` }],
    ['the token in the query', {}, `?access_token=${TOKEN}`],
  ] as [string, Record<string, string>, string?][])(
    'answers 401 in the OAuth shape to %s',
    async (_what, headers, query = '') => {
      const res = await fetch(`${gh.issuer}/metrics${query}`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      const body = (await res.json()) as Record<string, string>;
      expect(body.error).toBe('invalid_token');
      expect(JSON.stringify(body)).not.toContain('gatehouse_');
    },
  );

  it('serves the metrics with the token', async () => {
    const res = await fetch(`${gh.issuer}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('gatehouse_http_requests_total');
  });
});

describe('/metrics on METRICS_PORT', () => {
  let gh: RunningGatehouse;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    gh = await startTestGatehouse({ env: { METRICS_PORT: String(metricsPort) } });
  });
  afterAll(() => gh?.stop());

  it('is not served on the public port', async () => {
    const res = await fetch(`${gh.issuer}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('gatehouse_');
  });

  it('is served on the metrics port, bound to 127.0.0.1 only, and nothing else is', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('gatehouse_http_requests_total');
    expect(gh.metricsServer?.address()).toMatchObject({ address: '127.0.0.1', port: metricsPort });
    const other = await fetch(`http://127.0.0.1:${metricsPort}/.well-known/openid-configuration`);
    expect(other.status).toBe(404);
  });

  it('closes with the server', async () => {
    const server = gh.metricsServer!;
    await gh.stop();
    expect(server.listening).toBe(false);
  });
});
