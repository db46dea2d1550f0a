import { pino } from 'pino';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { totpCode } from '../support/totp.js';
import { linesSink } from '../support/log-lines.js';

/**
 * Trust boundary: the account page changes what signing in asks for. Only the signed-in user, from
 * a page of this site, may change it; a factor counts only once proven; removal needs a fresh
 * sign-in; nothing secret is logged.
 */
const PASSWORD = 'correct horse battery staple';
const user = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });
const NAMES = ['kim', 'lee', 'max', 'ned', 'oli'];

describe.each(['memory', 'redis'] as const)('account page attacks (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  const lines: string[] = [];
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    const sink = linesSink(lines);
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      logger: pino({ level: 'info' }, sink),
      overrides: { users: NAMES.map(user) },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  /** Signs `name` in to /account without a browser; returns the agent and the account page. */
  async function signedIn(name: string) {
    const ua = new UserAgent(gh.issuer);
    const first = await ua.follow(`${gh.issuer}/account`);
    const login = readForm(await first.res.text());
    const { res, url } = await ua.submit(new URL(login.action, first.url).href, {
      ...login.fields,
      username: name,
      password: PASSWORD,
    });
    expect(url).toBe(`${gh.issuer}/account`);
    return { ua, html: await res.text() };
  }
  const post = (ua: UserAgent, path: string, fields: Record<string, string>) =>
    ua.request(`${gh.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const state = async (sub: string) => gh.store.getRecord<{ totp?: unknown }>(`mfa:${sub}`);

  it('sends a browser without a session to sign in, and changes nothing for a POST without one', async () => {
    const ua = new UserAgent(gh.issuer);
    const res = await ua.request(`${gh.issuer}/account`);
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.pathname).toBe('/authorize');
    expect(to.searchParams.get('client_id')).toBe('gatehouse-account');
    expect(to.searchParams.get('redirect_uri')).toBe(`${gh.issuer}/account/callback`);
    for (const path of [
      '/account/totp/setup',
      '/account/totp/confirm',
      '/account/totp/remove',
      '/account/recovery-codes',
    ]) {
      const refused = await post(ua, path, { csrf: 'x', otp: '123456' });
      expect(refused.status).toBe(303);
      expect(refused.headers.get('location')).toBe('/account');
    }
  });

  it('refuses every form without the session’s anti-CSRF token, or with another session’s', async () => {
    const kim = await signedIn('kim');
    const lee = await signedIn('lee');
    const leeToken = readForm(lee.html).fields.csrf!;
    for (const fields of [{}, { csrf: '' }, { csrf: leeToken }] as Record<string, string>[]) {
      for (const path of ['/account/totp/setup', '/account/totp/remove', '/account/recovery-codes']) {
        expect((await post(kim.ua, path, fields)).status).toBe(403);
      }
    }
    expect(await state('kim-sub')).toBeUndefined();
  });

  it('counts an app only once a code from it is confirmed, in the session that started it', async () => {
    const max = await signedIn('max');
    const csrf = readForm(max.html).fields.csrf!;
    const setup = await (await post(max.ua, '/account/totp/setup', { csrf })).text();
    const secret = /id="totp-secret"[^>]*>([A-Z2-7 ]+)</.exec(setup)![1]!.replace(/ /g, '');
    expect(await state('max-sub')).toBeUndefined();
    // Another session of the same user cannot confirm it (the setup belongs to the first session).
    const other = await signedIn('max');
    const otherCsrf = readForm(other.html).fields.csrf!;
    const elsewhere = await post(other.ua, '/account/totp/confirm', {
      csrf: otherCsrf,
      otp: totpCode(secret),
    });
    expect(await elsewhere.text()).toContain('The setup expired');
    // Wrong and malformed codes are refused.
    for (const otp of ['', '12345', 'abcdef', 'x'.repeat(5000)]) {
      expect((await post(max.ua, '/account/totp/confirm', { csrf, otp })).status).toBe(401);
    }
    expect(await state('max-sub')).toBeUndefined();
    const done = await post(max.ua, '/account/totp/confirm', { csrf, otp: totpCode(secret, Date.now(), -1) });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('id="recovery-codes"');
    expect(await state('max-sub')).toMatchObject({ totp: { secret } });
    // The setup is spent: confirming again changes nothing.
    const again = await post(max.ua, '/account/totp/confirm', { csrf, otp: totpCode(secret) });
    expect(await again.text()).toContain('The setup expired');
    // The key and the recovery codes never reach the logs.
    const all = lines.join('\n');
    expect(all).not.toContain(secret);
    expect(all).toContain('"event":"mfa.totp_enrolled"');
  });

  it('answers other methods with 405 and Allow, and unknown paths with 404', async () => {
    const get = await fetch(`${gh.issuer}/account/totp/remove`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toContain('POST');
    const put = await fetch(`${gh.issuer}/account`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect((await fetch(`${gh.issuer}/account/nope`)).status).toBe(404);
  });

  it('refuses a callback that did not start here (no or wrong state)', async () => {
    const ua = new UserAgent(gh.issuer);
    expect((await ua.request(`${gh.issuer}/account/callback?code=x&state=y`)).status).toBe(400);
    const start = await ua.request(`${gh.issuer}/account`);
    const issued = new URL(start.headers.get('location')!).searchParams.get('state');
    expect((await ua.request(`${gh.issuer}/account/callback?code=x&state=${issued}x`)).status).toBe(400);
  });
});
