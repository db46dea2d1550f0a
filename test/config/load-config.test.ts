import { readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../../src/config/load-config.js';
import { tempConfigDir } from './support.js';

const DEFAULTS = JSON.parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as Record<string, unknown>;

/** The ConfigError loadConfig throws for `env`, or a failure when it throws none. */
function configError(env: Record<string, string>, overrides?: Record<string, unknown>): ConfigError {
  try {
    loadConfig({ env, overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify({ env, overrides })}`);
}

describe('loadConfig', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());

  describe('defaults', () => {
    it('loads config/default.json with the issuer from PORT', () => {
      const config = loadConfig({ env: {} });
      expect(config.issuer).toBe('http://localhost:3000');
      expect(config.port).toBe(3000);
      expect(config.clients.map((c) => c.client_id)).toEqual(['gatehouse-demo']);
      expect(config.clients[0]!.redirect_uris).toEqual(['http://localhost:3000/demo/callback']);
      expect(config.users.map((u) => u.username)).toEqual(['demo']);
      expect(config.ttl).toEqual(DEFAULTS.ttl);
      expect(config.http).toEqual({ bodyLimitBytes: 65536, shutdownGraceSeconds: 10 });
      expect(config).toMatchObject({
        nodeEnv: 'development',
        production: false,
        mode: 'standard',
        workers: 1,
        trustProxy: 0,
        logLevel: 'info',
        redisUrl: undefined,
        metricsToken: undefined,
        defaultCookieKeys: true,
      });
      expect([...config.allowInsecure]).toEqual([]);
    });

    it('never reads process.env when given env', () => {
      const saved = process.env.PORT;
      process.env.PORT = '4321';
      try {
        expect(loadConfig({ env: {} }).port).toBe(3000);
      } finally {
        if (saved === undefined) delete process.env.PORT;
        else process.env.PORT = saved;
      }
    });

    it('is frozen, deeply', () => {
      const config = loadConfig({ env: {} });
      expect(Object.isFrozen(config)).toBe(true);
      expect(Object.isFrozen(config.clients[0]!.redirect_uris)).toBe(true);
      expect(Object.isFrozen(config.ttl)).toBe(true);
    });

    it('follows PORT and ISSUER (without a trailing slash) into ${ISSUER} values', () => {
      expect(loadConfig({ env: { PORT: '8080' } }).clients[0]!.redirect_uris).toEqual([
        'http://localhost:8080/demo/callback',
      ]);
      const config = loadConfig({ env: { ISSUER: 'https://id.example.com/' } });
      expect(config.issuer).toBe('https://id.example.com');
      expect(config.clients[0]!.post_logout_redirect_uris).toEqual([
        'https://id.example.com/demo/logged-out',
      ]);
    });
  });

  describe('CONFIG_FILE', () => {
    it('merges over the defaults: objects key by key, arrays replaced', () => {
      const path = files.write({
        ttl: { accessToken: 600 },
        rateLimits: { loginPerIp: { points: 7 } },
        scopes: ['openid', 'email'],
        clients: [{ client_id: 'only-client', client_secret: 'only-secret-0123456789', redirect_uris: [] }],
        aws: { enabled: false },
      });
      const config = loadConfig({ env: { CONFIG_FILE: path } });
      expect(config.ttl).toEqual({ ...(DEFAULTS.ttl as object), accessToken: 600 });
      expect(config.rateLimits.loginPerIp).toEqual({
        points: 7,
        windowSeconds: 900,
        blockSeconds: 60,
        maxBlockSeconds: 3600,
      });
      expect(config.rateLimits.loginPerUsername).toEqual(
        (DEFAULTS.rateLimits as Record<string, unknown>).loginPerUsername,
      );
      expect(config.scopes).toEqual(['openid', 'email']);
      expect(config.clients.map((c) => c.client_id)).toEqual(['only-client']);
      expect(config.aws).toEqual({ ...(DEFAULTS.aws as object), enabled: false });
      // Untouched parts stay the defaults.
      expect(config.users.map((u) => u.username)).toEqual(['demo']);
      expect(config.deviceFlow).toEqual(DEFAULTS.deviceFlow);
    });

    it('an empty array replaces a default one', () => {
      const config = loadConfig({ env: { CONFIG_FILE: files.write({ users: [], acrValues: [] }) } });
      expect(config.users).toEqual([]);
    });

    it('overrides go over the file, and environment variables over both', () => {
      const path = files.write({
        ttl: { accessToken: 600, idToken: 700 },
        cookies: { keys: ['file-key-0123456789'] },
      });
      const config = loadConfig({
        env: { CONFIG_FILE: path, COOKIE_KEYS: 'env-key-0123456789, second-env-key-0123' },
        overrides: { ttl: { idToken: 800 } },
      });
      expect(config.ttl.accessToken).toBe(600);
      expect(config.ttl.idToken).toBe(800);
      expect(config.cookies.keys).toEqual(['env-key-0123456789', 'second-env-key-0123']);
      expect(config.defaultCookieKeys).toBe(false);
    });
  });

  describe('a bad file is a ConfigError naming the key and why', () => {
    const fileError = (content: unknown) => configError({ CONFIG_FILE: files.write(content) }).message;

    it('not JSON', () => {
      const path = files.write('{"ttl": {', 'truncated.json');
      expect(configError({ CONFIG_FILE: path }).message).toBe(
        `CONFIG_FILE: ${path} is not valid JSON: Expected property name or '}' in JSON at position 9 (line 1 column 10)`,
      );
    });

    it('not an object', () => {
      for (const content of ['[]', '"text"', 'null', '42']) {
        expect(fileError(content)).toMatch(/^CONFIG_FILE: .* must hold a JSON object at the top level$/);
      }
    });

    it('missing', () => {
      const path = `${files.dir}/no-such-file.json`;
      expect(configError({ CONFIG_FILE: path }).message).toBe(
        `CONFIG_FILE: cannot read ${path}: ENOENT: no such file or directory, open '${path}'`,
      );
    });

    it.each([
      ['an unknown top-level key', { ttls: {} }, 'ttls: unknown key'],
      ['an unknown nested key', { ttl: { acessToken: 5 } }, 'ttl.acessToken: unknown key'],
      [
        'an unknown key in a user',
        { users: [{ username: 'a', password: 'x', claims: { sub: '1' }, role: 'admin' }] },
        'users.0.role: unknown key',
      ],
      [
        'a wrong type',
        { ttl: { accessToken: '600' } },
        'ttl.accessToken: Invalid input: expected number, received string',
      ],
      [
        'a negative lifetime',
        { ttl: { accessToken: -1 } },
        'ttl.accessToken: Too small: expected number to be >0',
      ],
      [
        'a body limit below 1 KiB',
        { http: { bodyLimitBytes: 10 } },
        'http.bodyLimitBytes: Too small: expected number to be >=1024',
      ],
      [
        'a bad redirect URL',
        { clients: [{ client_id: 'a', redirect_uris: ['https://ok.example.com/cb', 'not a url'] }] },
        'clients.0.redirect_uris.1: Invalid URL',
      ],
      [
        'a bad jwks_uri',
        { trustedIssuers: [{ issuer: 'https://idp.example.com', jwks_uri: 'nope' }] },
        'trustedIssuers.0.jwks_uri: Invalid URL',
      ],
      ['a bad scope token', { scopes: ['open id'] }, 'scopes.0: not a valid scope token'],
      [
        'an unknown auth method',
        { clients: [{ client_id: 'a', token_endpoint_auth_method: 'magic' }] },
        'clients.0.token_endpoint_auth_method: Invalid option: expected one of "client_secret_basic"|"client_secret_post"|"private_key_jwt"|"none"',
      ],
      [
        'an AWS device interval of 0',
        { aws: { deviceIntervalSeconds: 0 } },
        'aws.deviceIntervalSeconds: Too small: expected number to be >=1',
      ],
      [
        'a negative AWS retry grace',
        { aws: { redeemedRetryGraceSeconds: -1 } },
        'aws.redeemedRetryGraceSeconds: Too small: expected number to be >=0',
      ],
      [
        'a trusted issuer with no keys',
        { trustedIssuers: [{ issuer: 'https://idp.example.com' }] },
        'trustedIssuers.0: give exactly one of jwks or jwks_uri',
      ],
    ])('%s', (_name, content, line) => {
      expect(fileError(content)).toBe(`invalid config:\n  ${line}`);
    });

    it('lists every problem, one per line', () => {
      expect(fileError({ ttl: { accessToken: 'x' }, metrics: { enabled: 'yes' } })).toBe(
        'invalid config:\n' +
          '  ttl.accessToken: Invalid input: expected number, received string\n' +
          '  metrics.enabled: Invalid input: expected boolean, received string',
      );
    });

    it('a duplicate client_id', () => {
      const client = { client_id: 'twice', redirect_uris: [] };
      expect(fileError({ clients: [{ client_id: 'once', redirect_uris: [] }, client, client] })).toBe(
        'clients.2.client_id: duplicate client_id "twice"',
      );
    });

    it('a duplicate username (case-insensitive) or sub', () => {
      const user = (username: string, sub: string) => ({ username, password: 'x', claims: { sub } });
      expect(fileError({ users: [user('ann', '1'), user('ANN', '2')] })).toBe(
        'users.1.username: duplicate username "ANN"',
      );
      expect(fileError({ users: [user('ann', '1'), user('bea', '1')] })).toBe(
        'users.1.claims.sub: duplicate sub "1"',
      );
    });
  });

  it('reads the other environment variables', () => {
    const trust = (value: string) => loadConfig({ env: { TRUST_PROXY: value } }).trustProxy;
    expect([trust('false'), trust('true'), trust('2')]).toEqual([0, 1, 2]);
    const config = loadConfig({
      env: {
        REDIS_URL: 'redis://:pw@cache.example.com:6380/2',
        WORKERS: '3',
        LOG_LEVEL: 'warn',
        METRICS_TOKEN: 'a-metrics-token-0123456789',
        TEST_API_TOKEN: 'a-test-api-token-0123456789',
        GATEHOUSE_MODE: 'test',
        GATEHOUSE_ALLOW_INSECURE: 'test-mode-shared-store',
      },
    });
    expect(config).toMatchObject({
      redisUrl: 'redis://:pw@cache.example.com:6380/2',
      redisConnection: {
        mode: 'single',
        nodes: [{ host: 'cache.example.com', port: 6380 }],
        db: 2,
        password: 'pw',
      },
      workers: 3,
      logLevel: 'warn',
      metricsToken: 'a-metrics-token-0123456789',
      testApiToken: 'a-test-api-token-0123456789',
      mode: 'test',
    });
    expect(loadConfig({ env: { GATEHOUSE_MODE: 'test' }, mode: 'standard' }).mode).toBe('standard');
  });

  describe('environment variables are checked too', () => {
    it.each([
      [
        { PORT: 'abc' },
        'invalid environment variable:\n  PORT: Invalid input: expected number, received NaN',
      ],
      [{ ISSUER: 'nope' }, 'invalid environment variable:\n  ISSUER: Invalid URL'],
      [
        { ISSUER: 'https://id.example.com/tenant' },
        'ISSUER: must be an origin without a path (e.g. https://id.example.com)',
      ],
      [{ COOKIE_KEYS: 'short' }, 'COOKIE_KEYS: every key must be at least 16 characters'],
      [{ WORKERS: '2' }, 'WORKERS: several worker processes need a shared store (set REDIS_URL)'],
      [
        { TRUST_PROXY: 'yes' },
        'invalid environment variable:\n  TRUST_PROXY: expected true, false or the number of proxies in front',
      ],
      [
        { REDIS_URL: 'http://cache:6379' },
        'REDIS_URL: unsupported scheme "http:" (use redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster)',
      ],
      [
        { GATEHOUSE_ALLOW_INSECURE: 'memory-store,everything' },
        'GATEHOUSE_ALLOW_INSECURE: unknown value "everything" (expected memory-store, dev-keys, plain-passwords, demo-accounts, default-cookie-keys, http-issuer, open-metrics, open-registration, http-upstreams, plain-ldap, test-mode-shared-store, all)',
      ],
    ])('%j', (env, message) => {
      expect(configError(env).message).toBe(message);
    });
  });
});
