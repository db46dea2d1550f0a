import { SSOOIDCClient, RegisterClientCommand, SlowDownException } from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';

const tight = { points: 3, windowSeconds: 60, blockSeconds: 2, maxBlockSeconds: 30 };

describe('rate limits', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      env: { TRUST_PROXY: '1' },
      overrides: {
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          loginPerUsernameAndIp: tight,
          clientAuthPerClient: tight,
          awsRegisterClientPerIp: { points: 2, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 },
        },
      },
    });
  });
  afterAll(() => gh?.stop());

  /** Opens a fresh sign-in page for web-app and returns its form. */
  async function loginForm(ip: string) {
    const ua = new UserAgent(gh.issuer);
    const url = `${gh.issuer}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(TEST_CLIENTS.web.redirect_uris[0])}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
    const { res, url: at } = await ua.follow(url);
    const form = readForm(await res.text());
    const submit = (username: string, password: string) =>
      ua.request(new URL(form.action, at).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ ...form.fields, username, password }).toString(),
      });
    return submit;
  }

  it('blocks a username from an address after repeated failures, with growing back-off, without revealing whether it exists', async () => {
    for (const username of ['alice', 'no-such-user']) {
      const submit = await loginForm('203.0.113.7');
      // Three failures use the budget up; the fourth attempt is refused before it is checked.
      for (let i = 0; i < 3; i += 1) expect((await submit(username, 'wrong')).status).toBe(401);
      const blocked = await submit(username, 'wrong');
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('retry-after')).toBe('2');
      expect(await blocked.text()).toContain('Too many sign-in attempts. Try again in 2 seconds.');
      // The correct password is refused too while blocked.
      if (username === 'alice') {
        expect((await submit('alice', 'correct horse battery staple')).status).toBe(429);
      }
    }
    // Accepted once the block is over: a fresh budget; using it up again blocks twice as long.
    const submit = await loginForm('203.0.113.7');
    await new Promise((r) => setTimeout(r, 2100));
    for (let i = 0; i < 3; i += 1) expect((await submit('alice', 'wrong')).status).toBe(401);
    const again = await submit('alice', 'wrong');
    // Second block of the day: twice as long.
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBe('4');
    await new Promise((r) => setTimeout(r, 4100));
    expect((await submit('alice', 'correct horse battery staple')).status).toBe(303);
  });

  it('keeps each address its own (username, address) budget', async () => {
    const attacker = await loginForm('203.0.113.8');
    for (let i = 0; i < 3; i += 1) expect((await attacker('alice', 'wrong')).status).toBe(401);
    expect((await attacker('alice', 'wrong')).status).toBe(429);
    const user = await loginForm('203.0.113.9');
    expect((await user('alice', 'correct horse battery staple')).status).toBe(303);
  });

  it('slows a client down across addresses with 429 slow_down and Retry-After', async () => {
    const attempt = (secret: string, ip: string) =>
      fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(TEST_CLIENTS.service.client_id, secret),
          'x-forwarded-for': ip,
        },
        body: 'grant_type=client_credentials',
      });
    for (let i = 0; i < 3; i += 1) expect((await attempt('wrong', `198.51.100.${i}`)).status).toBe(401);
    const blocked = await attempt(TEST_CLIENTS.service.client_secret, '198.51.100.99');
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await blocked.json()).toEqual({
      error: 'slow_down',
      error_description: expect.stringMatching(
        /^too many failed client authentications; retry after \d+ seconds$/,
      ),
    });
  });

  it('limits AWS RegisterClient per client IP with SlowDownException', async () => {
    const sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
    sso.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-forwarded-for'] = '192.0.2.50';
        return next(args);
      },
      { step: 'build' },
    );
    await sso.send(new RegisterClientCommand({ clientName: 'a', clientType: 'public' }));
    await sso.send(new RegisterClientCommand({ clientName: 'b', clientType: 'public' }));
    await expect(
      sso.send(new RegisterClientCommand({ clientName: 'c', clientType: 'public' })),
    ).rejects.toBeInstanceOf(SlowDownException);
    sso.destroy();
    // Another client IP still has its own budget (TRUST_PROXY=1 reads it from X-Forwarded-For).
    const other = await fetch(`${gh.issuer}/aws/oidc/client/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.51' },
      body: JSON.stringify({ clientName: 'd', clientType: 'public' }),
    });
    expect(other.status).toBe(200);
  });
});
