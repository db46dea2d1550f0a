import type { RunningGatehouse } from '../../src/gatehouse.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';

describe('behind a TLS-terminating reverse proxy (ISSUER=https://…)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { ISSUER: 'https://id.example.com' } });
  });
  afterAll(() => gh?.stop());

  it('builds every URL from the issuer, whatever Host and X-Forwarded-* say', async () => {
    const res = await fetch(`${gh.url}/.well-known/openid-configuration`, {
      headers: {
        host: 'evil.example.net',
        'x-forwarded-host': 'evil.example.net',
        'x-forwarded-proto': 'http',
      },
    });
    const meta = (await res.json()) as Record<string, string>;
    expect(meta.issuer).toBe('https://id.example.com');
    expect(meta.token_endpoint).toBe('https://id.example.com/token');
    expect(meta.authorization_endpoint).toBe('https://id.example.com/authorize');
  });

  it('sets Secure cookies and HSTS', async () => {
    const res = await fetch(
      `${gh.url}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(TEST_CLIENTS.web.redirect_uris[0])}&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/interaction\//);
    const cookies = res.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('an http issuer in production', () => {
  const production = {
    NODE_ENV: 'production',
    REDIS_URL: 'redis://127.0.0.1:1',
    COOKIE_KEYS: 'a-production-cookie-key-0123456789',
    METRICS_TOKEN: 'a-metrics-token-0123456789',
    GATEHOUSE_ALLOW_INSECURE: 'demo-accounts,plain-passwords',
  };

  it('is refused, naming ISSUER', () => {
    expect(() => loadConfig({ env: { ...production, ISSUER: 'http://id.example.com' } })).toThrow(
      /ISSUER: NODE_ENV=production needs an https issuer/,
    );
  });

  it('is allowed with the http-issuer opt-in, and https needs none', () => {
    expect(
      loadConfig({
        env: {
          ...production,
          ISSUER: 'http://id.example.com',
          GATEHOUSE_ALLOW_INSECURE: `${production.GATEHOUSE_ALLOW_INSECURE},http-issuer`,
        },
      }).issuer,
    ).toBe('http://id.example.com');
    expect(loadConfig({ env: { ...production, ISSUER: 'https://id.example.com' } }).issuer).toBe(
      'https://id.example.com',
    );
  });
});
