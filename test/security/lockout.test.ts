import { readFileSync } from 'node:fs';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: failure budgets. An attacker who guesses a user's password or a client's
 * secret from elsewhere must be blocked on their own address without locking the rightful
 * owner out for more than a short, bounded wait. Runs with the shipped default budgets.
 */
type Budget = { points: number; windowSeconds: number; blockSeconds: number; maxBlockSeconds: number };
const DEFAULTS = (
  JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as {
    rateLimits: Record<string, Budget>;
  }
).rateLimits;
const budget = (name: string): Budget => DEFAULTS[name]!;

const ALICE = TEST_USERS.alice;
const SERVICE = TEST_CLIENTS.service;
const wait = (seconds: number) => new Promise((r) => setTimeout(r, seconds * 1000 + 100));

describe.each(['memory', 'redis'])(
  'lockouts (failure budgets) with the default configuration, %s store',
  (kind) => {
    let gh: RunningGatehouse;
    let redis: RedisServer | undefined;
    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      // The shipped budgets for sign-in and client authentication; the AWS quotas stay generous.
      const {
        loginPerUsernameAndIp: _a,
        loginPerUsername: _b,
        loginPerIp: _c,
        clientAuthPerClientAndIp: _d,
        clientAuthPerClient: _e,
        clientAuthPerIp: _f,
        ...others
      } = GENEROUS_RATE_LIMITS;
      gh = await startTestGatehouse({
        env: { TRUST_PROXY: '1', ...(redis ? { REDIS_URL: redis.url } : {}) },
        overrides: { rateLimits: others },
      });
    });
    afterAll(async () => {
      await gh?.stop();
      await redis?.destroy();
    });

    it('ships a policy where budgets across addresses block for at most 30 seconds', () => {
      expect(budget('loginPerUsername').maxBlockSeconds).toBeLessThanOrEqual(30);
      expect(budget('clientAuthPerClient').maxBlockSeconds).toBeLessThanOrEqual(30);
      // Hard blocks are per address.
      expect(budget('loginPerUsernameAndIp').points).toBeLessThan(budget('loginPerUsername').points);
      expect(budget('clientAuthPerClientAndIp').points).toBeLessThan(budget('clientAuthPerClient').points);
    });

    /** Opens a fresh sign-in page and returns a function that submits it from `ip`. */
    async function loginForm(ip: string) {
      const ua = new UserAgent(gh.issuer);
      const url = `${gh.issuer}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(TEST_CLIENTS.web.redirect_uris[0])}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
      const { res, url: at } = await ua.follow(url);
      const form = readForm(await res.text());
      return (username: string, password: string) =>
        ua.request(new URL(form.action, at).href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
          body: new URLSearchParams({ ...form.fields, username, password }).toString(),
        });
    }

    /** Fails `username`'s password `times` times from `ip`, checking each is an ordinary failure. */
    async function failSignIns(username: string, ip: string, times: number) {
      const submit = await loginForm(ip);
      for (let i = 0; i < times; i += 1) expect((await submit(username, `wrong-${i}`)).status).toBe(401);
      return submit;
    }

    it('blocks the guessing address hard while the user signs in from another address at once', async () => {
      const attacker = await failSignIns(
        ALICE.username,
        '203.0.113.10',
        budget('loginPerUsernameAndIp').points,
      );
      // The attacker's address is blocked, even with the right password.
      const blocked = await attacker(ALICE.username, ALICE.password);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(
        budget('loginPerUsernameAndIp').blockSeconds - 1,
      );
      // The rightful user, elsewhere, is not.
      const user = await loginForm('198.51.100.20');
      expect((await user(ALICE.username, ALICE.password)).status).toBe(303);
      // Their success does not lift the attacker's block.
      expect((await attacker(ALICE.username, ALICE.password)).status).toBe(429);
    });

    it('slows a user down for a bounded time only when guesses come from many addresses', async () => {
      const username = TEST_USERS.bob.username;
      const perAddress = budget('loginPerUsernameAndIp').points;
      const across = budget('loginPerUsername');
      for (let i = 0; i * perAddress < across.points; i += 1) {
        await failSignIns(
          username,
          `203.0.113.${100 + i}`,
          Math.min(perAddress, across.points - i * perAddress),
        );
      }
      const user = await loginForm('198.51.100.21');
      const slowed = await user(username, TEST_USERS.bob.password);
      expect(slowed.status).toBe(429);
      const retryAfter = Number(slowed.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(across.maxBlockSeconds);
      await wait(retryAfter);
      expect((await user(username, TEST_USERS.bob.password)).status).toBe(303);
    });

    it('keys (username, address) pairs so that a username containing ":" cannot block another pair', async () => {
      // Joined naively with ":", ("alice:2001", "db8::7") and ("alice", "2001:db8::7") are one key.
      await failSignIns(`${ALICE.username}:2001`, 'db8::7', budget('loginPerUsernameAndIp').points);
      const user = await loginForm('2001:db8::7');
      expect((await user(ALICE.username, ALICE.password)).status).toBe(303);
    });

    const clientCredentials = (secret: string, ip: string) =>
      fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(SERVICE.client_id, secret),
          'x-forwarded-for': ip,
        },
        body: 'grant_type=client_credentials',
      });

    it("blocks an address guessing a client's secret while the client keeps working from its own", async () => {
      const perAddress = budget('clientAuthPerClientAndIp');
      for (let i = 0; i < perAddress.points; i += 1) {
        expect((await clientCredentials('wrong', '203.0.113.50')).status).toBe(401);
      }
      const blocked = await clientCredentials(SERVICE.client_secret, '203.0.113.50');
      expect(blocked.status).toBe(429);
      expect(await blocked.json()).toMatchObject({ error: 'slow_down' });
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(perAddress.blockSeconds - 1);
      expect((await clientCredentials(SERVICE.client_secret, '198.51.100.50')).status).toBe(200);
    });

    it('slows a client down for a bounded time only when bad secrets come from many addresses', async () => {
      const perAddress = budget('clientAuthPerClientAndIp').points;
      const across = budget('clientAuthPerClient');
      // web-app (client_secret_basic), so that the previous test's counts do not add up here.
      const attempt = (secret: string, ip: string) =>
        fetch(`${gh.issuer}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basicAuth(TEST_CLIENTS.web.client_id, secret),
            'x-forwarded-for': ip,
          },
          body: 'grant_type=authorization_code&code=not-a-code&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb',
        });
      for (let i = 0; i < across.points; i += 1) {
        expect((await attempt('wrong', `203.0.113.${150 + Math.floor(i / perAddress)}`)).status).toBe(401);
      }
      const slowed = await attempt(TEST_CLIENTS.web.client_secret, '198.51.100.51');
      expect(slowed.status).toBe(429);
      const retryAfter = Number(slowed.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(across.maxBlockSeconds);
      await wait(retryAfter);
      // Authenticated again: the made-up code is the only thing wrong now.
      const after = await attempt(TEST_CLIENTS.web.client_secret, '198.51.100.51');
      expect(after.status).toBe(400);
      expect(await after.json()).toMatchObject({ error: 'invalid_grant' });
    });
  },
);
