import { exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { createGatehouse } from '../../src/gatehouse.js';
import { hashPassword } from '../../src/accounts/password.js';
import { tempConfigDir } from './support.js';

const REASONS = {
  'memory-store':
    'REDIS_URL: NODE_ENV=production needs a persistent store (set REDIS_URL, or GATEHOUSE_ALLOW_INSECURE=memory-store)',
  'plain-passwords':
    'users.0.password: plain-text passwords are refused in production (use an $argon2id$ or $scrypt$ hash, see "npm run hash-password", or GATEHOUSE_ALLOW_INSECURE=plain-passwords)',
  'demo-user':
    'users.0.username: the demo user is refused in production (or GATEHOUSE_ALLOW_INSECURE=demo-accounts)',
  'demo-client':
    'clients.0.client_id: the demo client is refused in production (or GATEHOUSE_ALLOW_INSECURE=demo-accounts)',
  'http-issuer':
    'ISSUER: NODE_ENV=production needs an https issuer (terminate TLS at a proxy and set ISSUER=https://…, or GATEHOUSE_ALLOW_INSECURE=http-issuer)',
  'open-metrics':
    'METRICS_TOKEN: NODE_ENV=production serves /metrics only behind a bearer token (set METRICS_TOKEN, or METRICS_PORT on a loopback METRICS_HOST, or metrics.enabled false, or GATEHOUSE_ALLOW_INSECURE=open-metrics)',
  'default-cookie-keys':
    'cookies.keys: the shipped development cookie keys are refused in production (set COOKIE_KEYS, or GATEHOUSE_ALLOW_INSECURE=default-cookie-keys)',
};
type Reason = keyof typeof REASONS;
const ALL_REASONS = Object.keys(REASONS) as Reason[];

/** The reasons loadConfig gives for refusing `env`, in order; [] when it loads. */
function refusals(env: Record<string, string>): Reason[] {
  try {
    loadConfig({ env });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as Error).message.split('\n');
    const reasons = lines.map((line) => ALL_REASONS.find((r) => REASONS[r] === line));
    expect(reasons).not.toContain(undefined); // every line is one of the known reasons
    return reasons as Reason[];
  }
}

describe('NODE_ENV=production', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());

  it('refuses the defaults, naming every reason and its opt-in, in one message', () => {
    expect(refusals({ NODE_ENV: 'production' })).toEqual([
      'memory-store',
      'plain-passwords',
      'demo-user',
      'demo-client',
      'http-issuer',
      'open-metrics',
      'default-cookie-keys',
    ]);
  });

  it.each([
    ['memory-store', ['memory-store']],
    ['plain-passwords', ['plain-passwords']],
    ['demo-accounts', ['demo-user', 'demo-client']],
    ['default-cookie-keys', ['default-cookie-keys']],
    ['http-issuer', ['http-issuer']],
    ['open-metrics', ['open-metrics']],
    ['dev-keys', []], // signing keys are checked later, by createGatehouse
  ] as [string, Reason[]][])('GATEHOUSE_ALLOW_INSECURE=%s allows only that', (optIn, allowed) => {
    expect(refusals({ NODE_ENV: 'production', GATEHOUSE_ALLOW_INSECURE: optIn })).toEqual(
      ALL_REASONS.filter((r) => !allowed.includes(r)),
    );
  });

  it('opt-ins combine (comma-separated, spaces allowed), and "all" allows everything', () => {
    const env = { NODE_ENV: 'production' };
    expect(
      refusals({ ...env, GATEHOUSE_ALLOW_INSECURE: ' memory-store , demo-accounts,http-issuer ' }),
    ).toEqual(['plain-passwords', 'open-metrics', 'default-cookie-keys']);
    expect(refusals({ ...env, GATEHOUSE_ALLOW_INSECURE: 'all' })).toEqual([]);
    expect(loadConfig({ env: { ...env, GATEHOUSE_ALLOW_INSECURE: 'all' } }).production).toBe(true);
  });

  it('the file can opt in too (allowInsecure), adding to the environment', () => {
    const path = files.write({ allowInsecure: ['memory-store', 'plain-passwords', 'demo-accounts'] });
    expect(
      refusals({ NODE_ENV: 'production', CONFIG_FILE: path, GATEHOUSE_ALLOW_INSECURE: 'http-issuer' }),
    ).toEqual(['open-metrics', 'default-cookie-keys']);
  });

  it('the fixes the messages name make the refusals go away', () => {
    expect(
      refusals({
        NODE_ENV: 'production',
        ISSUER: 'https://id.example.com',
        COOKIE_KEYS: 'a-production-cookie-key-0123456789',
        REDIS_URL: 'redis://127.0.0.1:6379',
        METRICS_TOKEN: 'a-metrics-token-0123456789',
        GATEHOUSE_ALLOW_INSECURE: 'demo-accounts,plain-passwords',
      }),
    ).toEqual([]);
  });

  it('refuses test mode outright', () => {
    expect(() => loadConfig({ env: { NODE_ENV: 'production', GATEHOUSE_MODE: 'test' } })).toThrow(
      new ConfigError('GATEHOUSE_MODE: test mode (any user signs in) is refused when NODE_ENV=production'),
    );
  });

  describe('signing keys (checked when createGatehouse loads them)', () => {
    const logger = pino({ level: 'silent' });
    let productionFile: Record<string, unknown>;
    beforeAll(async () => {
      productionFile = {
        clients: [
          {
            client_id: 'app',
            client_secret: 'app-secret-0123456789',
            redirect_uris: ['https://app.example.com/cb'],
          },
        ],
        users: [
          { username: 'ops', password: await hashPassword('ops-password-1'), claims: { sub: 'ops-1' } },
        ],
      };
    });
    const productionEnv = (file: Record<string, unknown>, allow: string) => ({
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.com',
      COOKIE_KEYS: 'a-production-cookie-key-0123456789',
      METRICS_TOKEN: 'a-metrics-token-0123456789',
      CONFIG_FILE: files.write(file),
      GATEHOUSE_ALLOW_INSECURE: allow,
      LOG_LEVEL: 'silent',
    });

    it('with a configured jwks and hashed passwords, allowing the memory store is enough', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(privateKey)), kid: 'prod-key-1' };
      const config = loadConfig({
        env: productionEnv({ ...productionFile, jwks: { keys: [jwk] } }, 'memory-store'),
      });
      expect(config.production).toBe(true);
      const gh = await createGatehouse(config, { logger });
      try {
        expect(gh.providers.keys.source).toBe('config');
        const jwks = await request(gh.app.callback()).get('/jwks');
        expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual(['prod-key-1']);
        expect(JSON.stringify(jwks.body)).not.toContain('"d":');
        const discovery = await request(gh.app.callback()).get('/.well-known/openid-configuration');
        expect(discovery.body.issuer).toBe('https://id.example.com');
      } finally {
        await gh.close();
      }
    });

    it('refuses keys generated into the memory store, unless dev-keys is allowed', async () => {
      const config = loadConfig({ env: productionEnv(productionFile, 'memory-store') });
      const refused = await createGatehouse(config, { logger }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as Error).message).toBe(
        'jwks: NODE_ENV=production refuses signing keys generated into the in-memory store (configure "jwks", use REDIS_URL, or GATEHOUSE_ALLOW_INSECURE=dev-keys)',
      );
      for (const allow of ['memory-store,dev-keys', 'all']) {
        const gh = await createGatehouse(loadConfig({ env: productionEnv(productionFile, allow) }), {
          logger,
        });
        expect(gh.providers.keys.source).toBe('generated');
        await gh.close();
      }
    });

    it('outside production generated keys on the memory store are fine', async () => {
      const gh = await createGatehouse(loadConfig({ env: { LOG_LEVEL: 'silent' } }), { logger });
      expect(gh.providers.keys.source).toBe('generated');
      await gh.close();
    });
  });
});
