import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse } from '../support/gatehouse.js';
import { authorizeUrl } from '../support/browser.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { FLAGS, SoftAuthenticator } from '../support/soft-authenticator.js';
import { linesSink } from '../support/log-lines.js';

/**
 * Trust boundary: a passkey assertion signs a user in by itself (two factors). Only a signature
 * by a registered key, over this issuer's rp id and origin, answering the one challenge this
 * interaction was given, with user verification, from the credential's own user, posted from
 * this site, may sign anyone in; each refusal says so clearly and signs no one in.
 */
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const NAMES = ['ana', 'ben', 'cai', 'dee'];
const user = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });
const tight = { points: 4, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 };
const NOT_ACCEPTED = 'That passkey could not be used to sign in';

describe.each(['memory', 'redis'] as const)('passkey attacks (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let rpId: string;
  const lines: string[] = [];
  const keys: Record<string, SoftAuthenticator> = {};
  let ip = 0;
  /** A client address of its own for each sign-in, so that budgets never mix between tests. */
  const nextIp = () => `198.51.100.${(ip += 1)}`;

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    const sink = linesSink(lines);
    gh = await startTestGatehouse({
      env: { TRUST_PROXY: '1', METRICS_TOKEN, ...(redis ? { REDIS_URL: redis.url } : {}) },
      logger: pino({ level: 'info' }, sink),
      overrides: {
        users: NAMES.map(user),
        rateLimits: { ...GENEROUS_RATE_LIMITS, loginPerIp: tight, secondFactorPerUserAndIp: tight },
      },
    });
    rpId = new URL(gh.issuer).hostname;
    keys.ana = await enrol('ana', new SoftAuthenticator());
    keys.ben = await enrol('ben', new SoftAuthenticator());
    keys.cai = await enrol('cai', new SoftAuthenticator({ counts: true }));
    keys.dee = await enrol('dee', new SoftAuthenticator({ backupEligible: true }));
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const post = (ua: UserAgent, path: string, fields: Record<string, string>, from = '127.0.0.1') =>
    ua.request(`${gh.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
      body: new URLSearchParams(fields).toString(),
    });

  /** Signs `name` in to /account with the password and registers `key` as a passkey there. */
  async function enrol(name: string, key: SoftAuthenticator) {
    const ua = new UserAgent(gh.issuer);
    const first = await ua.follow(`${gh.issuer}/account`);
    const login = readForm(await first.res.text());
    const { res } = await ua.submit(new URL(login.action, first.url).href, {
      ...login.fields,
      username: name,
      password: PASSWORD,
    });
    const csrf = readForm(await res.text()).fields.csrf!;
    const options = await (await post(ua, '/account/passkeys/options', { csrf })).json();
    const credential = JSON.stringify(key.register(options, gh.issuer, rpId));
    const added = await post(ua, '/account/passkeys/add', { csrf, credential, name: `${name}'s key` });
    expect(added.status).toBe(200);
    expect(await added.text()).toContain('added.');
    return key;
  }

  /** Opens a sign-in for the web app; returns its agent, uid and CSRF token. */
  async function startSignIn() {
    const ua = new UserAgent(gh.issuer);
    const { res } = await ua.follow(authorizeUrl(gh.issuer, { prompt: 'login' }));
    const html = await res.text();
    const { action, fields } = readForm(html);
    const uid = /\/interaction\/([^/]+)\/login/.exec(action)![1]!;
    return { ua, uid, csrf: fields.csrf!, from: nextIp() };
  }
  type SignIn = Awaited<ReturnType<typeof startSignIn>>;

  async function challengeFor(s: SignIn, extra: Record<string, string> = {}) {
    const res = await post(s.ua, `/interaction/${s.uid}/passkey/options`, { csrf: s.csrf, ...extra }, s.from);
    expect(res.status).toBe(200);
    return (await res.json()) as { challenge: string; allowCredentials?: { id: string }[]; rpId: string };
  }
  const submit = (s: SignIn, credential: unknown, extra: Record<string, string> = {}) =>
    post(
      s.ua,
      `/interaction/${s.uid}/passkey`,
      {
        csrf: s.csrf,
        credential: typeof credential === 'string' ? credential : JSON.stringify(credential),
        ...extra,
      },
      s.from,
    );
  const good = (key: SoftAuthenticator, challenge: string) =>
    key.assert({ challenge, origin: gh.issuer, rpId });

  const sessions = async () =>
    Object.fromEntries(
      await Promise.all(NAMES.map(async (n) => [n, (await gh.store.sessionsOf(`${n}-sub`)).ids.length])),
    );

  /** The page again with the message, no redirect, and no new session for anyone. */
  async function expectRefused(
    res: Response,
    before: Record<string, number>,
    message = NOT_ACCEPTED,
    status = 401,
  ) {
    expect(res.status).toBe(status);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain(message);
    expect(await sessions()).toEqual(before);
    return html;
  }
  /** The reason the last refused passkey was logged with (the page never shows it). */
  const lastReason = () =>
    lines
      .map((l) => JSON.parse(l) as { event?: string; method?: string; reason?: string })
      .filter((e) => e.event === 'mfa.failure' && e.method === 'passkey')
      .at(-1)?.reason;

  it('signs in with a right assertion (the control case): a redirect back into the flow', async () => {
    const s = await startSignIn();
    const { challenge, rpId: offered } = await challengeFor(s);
    expect(offered).toBe('localhost');
    const res = await submit(s, good(keys.ana!, challenge));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('/authorize/');
  });

  it('tells a synced passkey (backup eligible: swk) from a device-bound one (hwk)', async () => {
    for (const [name, method] of [
      ['dee', 'swk'],
      ['ana', 'hwk'],
    ] as const) {
      const s = await startSignIn();
      expect((await submit(s, good(keys[name]!, (await challengeFor(s)).challenge))).status).toBe(303);
      const success = lines
        .map((l) => JSON.parse(l) as { event?: string; sub?: string; amr?: string })
        .filter((e) => e.event === 'mfa.success' && e.sub === `${name}-sub`)
        .at(-1);
      expect(success?.amr).toBe(method);
    }
  });

  it('refuses a forged signature, a wrong origin, a wrong rp id, a wrong type and a missing UV flag', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const bends: [Record<string, unknown>, RegExp][] = [
      [{ signWith: other }, /^bad_signature$/],
      [{ origin: 'http://evil.example' }, /^assertion_refused: .*origin/],
      [{ origin: gh.issuer.replace('localhost', '127.0.0.1') }, /^assertion_refused: .*origin/],
      [{ rpId: 'evil.example' }, /^assertion_refused: .*RP ID/i],
      [{ type: 'webauthn.create' }, /^assertion_refused: .*type/],
      [{ flags: FLAGS.UP }, /^assertion_refused: .*verif/i],
      [{ flags: FLAGS.UV }, /^assertion_refused: .*present/i],
    ];
    for (const [bend, reason] of bends) {
      const s = await startSignIn();
      const { challenge } = await challengeFor(s);
      const before = await sessions();
      const res = await submit(s, keys.ana!.assert({ challenge, origin: gh.issuer, rpId, ...bend }));
      await expectRefused(res, before);
      expect(lastReason()).toMatch(reason);
    }
  });

  it('takes each challenge once: a replay, or a retry after a failure, is refused', async () => {
    const s = await startSignIn();
    const { challenge } = await challengeFor(s);
    const before = await sessions();
    await expectRefused(
      await submit(s, keys.ana!.assert({ challenge, origin: gh.issuer, rpId, flags: FLAGS.UP })),
      before,
    );
    await expectRefused(await submit(s, good(keys.ana!, challenge)), before, 'expired or was already used');
    expect(lastReason()).toBe('no_challenge');
    // A right assertion that signed in cannot sign in a second browser.
    const first = await startSignIn();
    const used = good(keys.ana!, (await challengeFor(first)).challenge);
    expect((await submit(first, used)).status).toBe(303);
    const second = await startSignIn();
    await challengeFor(second);
    await expectRefused(await submit(second, used), await sessions());
    expect(lastReason()).toMatch(/^assertion_refused: .*challenge/);
  });

  it('binds a challenge to its interaction: one from another sign-in is refused there', async () => {
    const x = await startSignIn();
    const y = await startSignIn();
    const cx = (await challengeFor(x)).challenge;
    const cy = (await challengeFor(y)).challenge;
    expect(cx).not.toBe(cy);
    const before = await sessions();
    await expectRefused(await submit(y, good(keys.ana!, cx)), before);
    expect(lastReason()).toMatch(/^assertion_refused: .*challenge/);
    // X's challenge is still X's own.
    expect((await submit(x, good(keys.ana!, cx))).status).toBe(303);
  });

  it("refuses another user's credential: a user handle that is not its user's, or the wrong user at the second step", async () => {
    const s = await startSignIn();
    const { challenge } = await challengeFor(s);
    const before = await sessions();
    // Ben's key and credential id, Ana's user handle.
    await expectRefused(
      await submit(
        s,
        keys.ben!.assert({ challenge, origin: gh.issuer, rpId, userHandle: keys.ana!.userHandle }),
      ),
      before,
    );
    expect(lastReason()).toBe('user_handle_mismatch');
    // Ana's credential id and user handle, signed by Ben's key.
    const t = await startSignIn();
    const ct = (await challengeFor(t)).challenge;
    await expectRefused(
      await submit(
        t,
        keys.ben!.assert({
          challenge: ct,
          origin: gh.issuer,
          rpId,
          credentialId: keys.ana!.credentialId,
          userHandle: keys.ana!.userHandle,
        }),
      ),
      before,
    );
    expect(lastReason()).toBe('bad_signature');
    // No user handle at all on a sign-in without a username.
    const u = await startSignIn();
    const cu = (await challengeFor(u)).challenge;
    await expectRefused(
      await submit(u, keys.ana!.assert({ challenge: cu, origin: gh.issuer, rpId, userHandle: null })),
      before,
    );
    expect(lastReason()).toBe('no_user_handle');

    // After Ana's password, the second step asks for Ana's passkeys only, and refuses Ben's.
    const p = await startSignIn();
    const page = await post(
      p.ua,
      `/interaction/${p.uid}/login`,
      { csrf: p.csrf, username: 'ana', password: PASSWORD },
      p.from,
    );
    const html = await page.text();
    expect(html).toContain('Two-step verification');
    expect(html).toContain('name="passkey"');
    const options = await challengeFor(p, { purpose: 'second-factor' });
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([keys.ana!.credentialId]);
    const refused = await submit(p, good(keys.ben!, options.challenge), { purpose: 'second-factor' });
    const again = await expectRefused(refused, before);
    expect(again).toContain('Two-step verification');
    expect(lastReason()).toBe('other_users_credential');
    const retry = await challengeFor(p, { purpose: 'second-factor' });
    const done = await submit(p, good(keys.ana!, retry.challenge), { purpose: 'second-factor' });
    expect(done.status).toBe(303);
  });

  it('refuses a signature counter that goes back (a cloned authenticator)', async () => {
    const s = await startSignIn();
    expect((await submit(s, good(keys.cai!, (await challengeFor(s)).challenge))).status).toBe(303);
    const t = await startSignIn();
    const { challenge } = await challengeFor(t);
    const before = await sessions();
    await expectRefused(
      await submit(t, keys.cai!.assert({ challenge, origin: gh.issuer, rpId, counter: 0 })),
      before,
    );
    expect(lastReason()).toMatch(/^assertion_refused: .*counter/i);
  });

  it('refuses posts without the interaction’s anti-CSRF token, and changes nothing', async () => {
    const s = await startSignIn();
    const other = await startSignIn();
    for (const csrf of [undefined, '', other.csrf]) {
      const fields: Record<string, string> = csrf === undefined ? {} : { csrf };
      expect((await post(s.ua, `/interaction/${s.uid}/passkey/options`, fields, s.from)).status).toBe(403);
    }
    const { challenge } = await challengeFor(s);
    const before = await sessions();
    const credential = JSON.stringify(good(keys.ana!, challenge));
    for (const csrf of [undefined, '', other.csrf]) {
      const fields: Record<string, string> = { credential, ...(csrf === undefined ? {} : { csrf }) };
      const res = await post(s.ua, `/interaction/${s.uid}/passkey`, fields, s.from);
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    }
    expect(await sessions()).toEqual(before);
  });

  it('answers malformed assertions with the page and a clear message, never a 500', async () => {
    const before = await sessions();
    for (const credential of [
      '',
      'not json',
      '[]',
      '{}',
      '{"id": 5}',
      '{"id":"x","response":"y"}',
      'x'.repeat(20_000),
    ]) {
      const s = await startSignIn();
      await challengeFor(s);
      const res = await submit(s, credential);
      expect([400, 401]).toContain(res.status);
      expect(await res.text()).toContain('role="alert"');
    }
    expect(await sessions()).toEqual(before);
  });

  it('rate-limits failed passkey sign-ins per address, then refuses even a right one', async () => {
    const from = nextIp();
    for (let i = 0; i < tight.points; i += 1) {
      const s = { ...(await startSignIn()), from };
      await submit(
        s,
        keys.ana!.assert({
          challenge: (await challengeFor(s)).challenge,
          origin: 'http://evil.example',
          rpId,
        }),
      );
    }
    const s = { ...(await startSignIn()), from };
    const before = await sessions();
    const res = await submit(s, good(keys.ana!, (await challengeFor(s)).challenge));
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectRefused(res, before, 'Too many failed attempts', 429);
  });

  it('serves the pages’ scripts from the issuer’s origin only, under a CSP without inline scripts', async () => {
    const s = await startSignIn();
    const page = await s.ua.follow(`${gh.issuer}/interaction/${s.uid}`);
    const csp = page.res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await page.res.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map(([, attributes]) => /src="([^"]+)"/.exec(attributes!)?.[1])).toEqual([
      '/assets/simplewebauthn-browser.js',
      '/assets/passkeys.js',
    ]);
    expect(scripts.every(([, , body]) => body!.trim() === '')).toBe(true);
    for (const path of ['/assets/simplewebauthn-browser.js', '/assets/passkeys.js']) {
      const res = await fetch(`${gh.issuer}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await res.text()).length).toBeGreaterThan(500);
    }
  });

  it('logs and counts each attempt by method, never a key or an assertion', async () => {
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.some((e) => e.event === 'mfa.failure' && e.method === 'passkey' && e.audit)).toBe(true);
    expect(
      events.some((e) => e.event === 'mfa.success' && e.method === 'passkey' && e.sub === 'ana-sub'),
    ).toBe(true);
    expect(events.some((e) => e.event === 'mfa.passkey_added' && e.sub === 'ben-sub')).toBe(true);
    expect(lines.join('\n')).not.toContain(keys.ana!.keys.publicKey.export({ format: 'jwk' }).x!);
    const metrics = await fetch(`${gh.issuer}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await metrics.text();
    expect(text).toMatch(/gatehouse_second_factors_total\{method="passkey",result="success"[^}]*\} [1-9]/);
    expect(text).toMatch(/gatehouse_second_factors_total\{method="passkey",result="failure"[^}]*\} [1-9]/);
  });
});
