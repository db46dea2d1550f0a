import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';
import { linesSink } from '../support/log-lines.js';

/**
 * Trust boundary: the second factor. Knowing the password must not be enough: a code cannot be
 * skipped, replayed, guessed without limit, or posted from another site or another sign-in.
 */
const WEB = TEST_CLIENTS.web;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const user = (name: string) => ({
  username: name,
  password: PASSWORD,
  totp: TEST_TOTP_SECRET,
  claims: { sub: `${name}-sub` },
});
const NAMES = ['dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const tight = { points: 3, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 };

describe.each(['memory', 'redis'] as const)('second factor attacks (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  const lines: string[] = [];
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    const sink = linesSink(lines);
    gh = await startTestGatehouse({
      env: { TRUST_PROXY: '1', METRICS_TOKEN, ...(redis ? { REDIS_URL: redis.url } : {}) },
      logger: pino({ level: 'info' }, sink),
      overrides: {
        users: NAMES.map(user),
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          secondFactorPerUserAndIp: tight,
          secondFactorPerUser: { ...tight, points: 5 },
        },
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  /** Opens a sign-in and gives the right password from `ip`; returns the code page and its form. */
  async function pastPassword(username: string, ip = '198.51.100.1') {
    const ua = new UserAgent(gh.issuer);
    const url = new URL(`${gh.issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: WEB.client_id,
      response_type: 'code',
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const page = await ua.follow(url.href);
    const login = readForm(await page.res.text());
    const res = await ua.request(new URL(login.action, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams({ ...login.fields, username, password: PASSWORD }).toString(),
    });
    const html = await res.text();
    expect(html).toContain('name="otp"');
    const form = readForm(html);
    const post = (fields: Record<string, string>, from = ip) =>
      ua.request(new URL(form.action, gh.issuer).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
        body: new URLSearchParams(fields).toString(),
      });
    return {
      ua,
      loginForm: login,
      form,
      submit: (otp: string, from?: string) => post({ ...form.fields, otp }, from),
      post,
    };
  }
  const signedIn = (res: Response) =>
    res.status === 303 && (res.headers.get('location') ?? '').includes('/authorize/');
  const wrongCode = () => {
    const right = new Set([-1, 0, 1].map((s) => totpCode(TEST_TOTP_SECRET, Date.now(), s)));
    let n = 0;
    while (right.has(String(n).padStart(6, '0'))) n += 1;
    return String(n).padStart(6, '0');
  };

  it('blocks wrong codes per (user, address): then even the right code is refused there', async () => {
    const attacker = await pastPassword('dave', '203.0.113.9');
    for (let i = 0; i < tight.points; i += 1) expect((await attacker.submit(wrongCode())).status).toBe(401);
    const blocked = await attacker.submit(totpCode(TEST_TOTP_SECRET));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.text()).toContain('Too many wrong codes');
    // The rightful user, elsewhere, is not locked out by the per-address budget.
    const owner = await pastPassword('dave', '192.0.2.50');
    expect(signedIn(await owner.submit(totpCode(TEST_TOTP_SECRET)))).toBe(true);
  });

  it('blocks a user guessed at from many addresses (only someone with the password can)', async () => {
    for (let i = 0; i < 5; i += 1) {
      const from = `203.0.113.${20 + i}`;
      const guesser = await pastPassword('erin', from);
      expect((await guesser.submit(wrongCode())).status).toBe(401);
    }
    const next = await pastPassword('erin', '203.0.113.99');
    expect((await next.submit(totpCode(TEST_TOTP_SECRET))).status).toBe(429);
  });

  it('refuses a code already used, also when two sign-ins race with it', async () => {
    const code = totpCode(TEST_TOTP_SECRET, Date.now(), 1);
    const [a, b] = await Promise.all([pastPassword('frank'), pastPassword('frank')]);
    const results = await Promise.all([a!.submit(code), b!.submit(code)]);
    expect(results.map(signedIn).sort()).toEqual([false, true]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 401]);
  });

  it('refuses a code post without the anti-CSRF field, or with another sign-in’s', async () => {
    const victim = await pastPassword('grace');
    const other = await pastPassword('grace');
    const code = totpCode(TEST_TOTP_SECRET);
    const missing = await victim.post({ otp: code });
    expect(missing.status).toBe(403);
    const foreign = await victim.post({ csrf: other.form.fields.csrf!, otp: code });
    expect(foreign.status).toBe(403);
    expect(signedIn(await victim.submit(code))).toBe(true);
  });

  it('does not let a code stand in for the password: the code page needs the password first', async () => {
    const ua = new UserAgent(gh.issuer);
    const url = `${gh.issuer}/authorize?client_id=${WEB.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(WEB.redirect_uris[0])}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
    const page = await ua.follow(url);
    const login = readForm(await page.res.text());
    const otpAction = new URL(login.action.replace(/\/login$/, '/otp'), gh.issuer).href;
    const res = await ua.request(otpAction, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: login.fields.csrf!, otp: totpCode(TEST_TOTP_SECRET) }).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('does not carry a right password over to another browser’s sign-in', async () => {
    const victim = await pastPassword('heidi');
    // The attacker has the code page's address and form, but not the victim's interaction cookie.
    const attacker = new UserAgent(gh.issuer);
    const res = await attacker.request(new URL(victim.form.action, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...victim.form.fields, otp: totpCode(TEST_TOTP_SECRET) }).toString(),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get('location')).toBeNull();
  });

  it('answers bad input with a 4xx page, never a 500', async () => {
    const step = await pastPassword('ivan');
    for (const otp of ['', ' ', 'x'.repeat(5000), '12345', '1234567', '\u0000\u202e', '../../', '12 34 56']) {
      const res = await step.submit(otp);
      // Wrong codes all, until the tight per-address budget blocks: a page either way.
      expect([401, 429]).toContain(res.status);
      expect(await res.text()).toContain('name="otp"');
    }
    const array = await step.ua.request(new URL(step.form.action, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(step.form.fields.csrf!)}&otp=1&otp=2`,
    });
    expect([401, 429]).toContain(array.status);
  });

  it('logs and counts successes and failures by method, never the code or the secret', async () => {
    const step = await pastPassword('judy');
    const wrong = wrongCode();
    const right = totpCode(TEST_TOTP_SECRET, Date.now(), -1);
    expect((await step.submit(wrong)).status).toBe(401);
    expect(signedIn(await step.submit(right))).toBe(true);
    const judy = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.sub === 'judy-sub');
    expect(judy.map((l) => [l.event, l.method, l.audit])).toEqual(
      expect.arrayContaining([
        ['mfa.failure', 'totp', true],
        ['mfa.success', 'totp', true],
      ]),
    );
    const all = lines.join('\n');
    expect(all).not.toContain(TEST_TOTP_SECRET);
    expect(all).not.toContain(right);
    const metrics = await fetch(`${gh.issuer}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await metrics.text();
    expect(text).toMatch(/gatehouse_second_factors_total\{method="totp",result="success"[^}]*\} [1-9]/);
    expect(text).toMatch(/gatehouse_second_factors_total\{method="totp",result="failure"[^}]*\} [1-9]/);
  });
});
