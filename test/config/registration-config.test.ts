import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { tempConfigDir } from './support.js';

const OPEN_REFUSAL =
  /^registration\.open: NODE_ENV=production refuses registration without an initial access token .*GATEHOUSE_ALLOW_INSECURE=open-registration\)$/m;

describe('registration configuration', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());
  const base = { enabled: true, open: false, initialAccessTokens: [], maxRegistrationsPerHour: 100 };
  const load = (registration: Record<string, unknown>, env: Record<string, string> = {}) =>
    loadConfig({ env: { CONFIG_FILE: files.write({ registration: { ...base, ...registration } }), ...env } });
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://id.example.com',
    COOKIE_KEYS: 'a-production-cookie-key-0123456789',
    REDIS_URL: 'redis://127.0.0.1:6379',
    METRICS_TOKEN: 'a-metrics-token-0123456789',
    GATEHOUSE_ALLOW_INSECURE: 'demo-accounts,plain-passwords',
  };

  it('is off by default', () => {
    expect(loadConfig({ env: {} }).registration).toEqual({
      enabled: false,
      open: false,
      initialAccessTokens: [],
      maxRegistrationsPerHour: 100,
    });
  });

  it('refuses open registration in production unless opted in by name', () => {
    expect(() => load({ open: true }, production)).toThrow(OPEN_REFUSAL);
    expect(
      load(
        { open: true },
        {
          ...production,
          GATEHOUSE_ALLOW_INSECURE: `${production.GATEHOUSE_ALLOW_INSECURE},open-registration`,
        },
      ).registration.open,
    ).toBe(true);
    // Registration behind initial access tokens (stored or configured) needs no opt-in.
    expect(load({}, production).registration.enabled).toBe(true);
    expect(
      load({ initialAccessTokens: ['a-configured-token-0123456789'] }, production).registration.enabled,
    ).toBe(true);
  });

  it('refuses open registration together with initial access tokens, and short tokens', () => {
    expect(() => load({ open: true, initialAccessTokens: ['a-configured-token-0123456789'] })).toThrow(
      ConfigError,
    );
    expect(() => load({ open: true, initialAccessTokens: ['a-configured-token-0123456789'] })).toThrow(
      /registration\.open: open registration needs no initial access tokens/,
    );
    expect(() => load({ initialAccessTokens: ['short'] })).toThrow(
      /registration\.initialAccessTokens\.0: initial access tokens must be at least 20 characters/,
    );
  });

  it('takes initial access tokens from REGISTRATION_TOKENS too (replacing the file’s)', () => {
    const config = load(
      { initialAccessTokens: ['a-file-token-0123456789'] },
      { REGISTRATION_TOKENS: ' env-token-one-0123456789 , env-token-two-0123456789 ' },
    );
    expect(config.registration.initialAccessTokens).toEqual([
      'env-token-one-0123456789',
      'env-token-two-0123456789',
    ]);
    expect(() => load({}, { REGISTRATION_TOKENS: 'short' })).toThrow(
      /registration\.initialAccessTokens\.0: initial access tokens must be at least 20 characters/,
    );
  });
});
