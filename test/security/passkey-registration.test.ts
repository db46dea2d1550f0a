import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { FLAGS, SoftAuthenticator } from '../support/soft-authenticator.js';

/**
 * Trust boundary: adding and removing passkeys on /account. A passkey signs its user in by
 * itself, so only the signed-in user, from a page of this site, answering the challenge of their
 * own session with a key made for this issuer's rp id and origin under user verification, may
 * add one; no one may take over another user's credential id; removal needs a fresh sign-in.
 */
const PASSWORD = 'correct horse battery staple';
const NAMES = ['eva', 'fay', 'gus', 'hal', 'ida'];
const user = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });
const FRESH_SECONDS = 1;

interface Stored {
  userHandle: string;
  credentials: { id: string; name: string }[];
}

describe.each(['memory', 'redis'] as const)('passkey registration attacks (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let rpId: string;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      overrides: { users: NAMES.map(user), mfa: { freshSignInSeconds: FRESH_SECONDS } },
    });
    rpId = new URL(gh.issuer).hostname;
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const post = (ua: UserAgent, path: string, fields: Record<string, string>) =>
    ua.request(`${gh.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const stored = (name: string) => gh.store.getRecord<Stored>(`passkeys:${name}-sub`);
  const count = async (name: string) => (await stored(name))?.credentials.length ?? 0;

  /** Signs `name` in to /account with the password; returns the agent and the page's CSRF token. */
  async function signedIn(name: string) {
    const ua = new UserAgent(gh.issuer);
    const first = await ua.follow(`${gh.issuer}/account`);
    const login = readForm(await first.res.text());
    const { res } = await ua.submit(new URL(login.action, first.url).href, {
      ...login.fields,
      username: name,
      password: PASSWORD,
    });
    const session = { ua, csrf: readForm(await res.text()).fields.csrf! };
    firstSession[name] ??= session;
    return session;
  }
  /** The first account-page session of each user (a user with a passkey is asked for it after the password). */
  const firstSession: Record<string, { ua: UserAgent; csrf: string }> = {};
  async function options(s: { ua: UserAgent; csrf: string }) {
    const res = await post(s.ua, '/account/passkeys/options', { csrf: s.csrf });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      challenge: string;
      user: { id: string; name: string };
      rp: { id: string };
      excludeCredentials: { id: string }[];
      authenticatorSelection: Record<string, unknown>;
    };
  }
  const add = (s: { ua: UserAgent; csrf: string }, credential: unknown) =>
    post(s.ua, '/account/passkeys/add', { csrf: s.csrf, credential: JSON.stringify(credential) });
  async function expectNotAdded(res: Response, message: string) {
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(message);
  }

  it('asks for a discoverable credential with user verification, for this rp id, with a random user handle', async () => {
    const s = await signedIn('eva');
    const o = await options(s);
    expect(o.rp.id).toBe('localhost');
    expect(o.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    const handle = Buffer.from(o.user.id, 'base64url');
    expect(handle).toHaveLength(32);
    expect(handle.toString()).not.toContain('eva');
    const key = new SoftAuthenticator();
    expect((await add(s, key.register(o, gh.issuer, rpId))).status).toBe(200);
    // The next options exclude the passkey already there, and keep the same user handle.
    const next = await options(s);
    expect(next.excludeCredentials.map((c) => c.id)).toEqual([key.credentialId]);
    expect(next.user.id).toBe(o.user.id);
  });

  it('refuses a registration without user verification, or for another origin or rp id', async () => {
    const s = await signedIn('fay');
    const bends: [string, string, number | undefined][] = [
      [gh.issuer, rpId, FLAGS.UP | FLAGS.AT],
      ['http://evil.example', rpId, undefined],
      [gh.issuer, 'evil.example', undefined],
    ];
    for (const [origin, rp, flags] of bends) {
      const o = await options(s);
      await expectNotAdded(
        await add(s, new SoftAuthenticator().register(o, origin, rp, flags)),
        'could not be added',
      );
    }
    expect(await count('fay')).toBe(0);
  });

  it('takes a registration challenge once, in the session that asked for it', async () => {
    const s = await signedIn('gus');
    const other = await signedIn('gus');
    const o = await options(s);
    const key = new SoftAuthenticator();
    const response = key.register(o, gh.issuer, rpId);
    // Another session of the same user has no challenge open: refused.
    await expectNotAdded(await add(other, response), 'took too long or was already done');
    expect((await add(s, response)).status).toBe(200);
    // Replayed: refused, still one passkey.
    await expectNotAdded(await add(s, response), 'took too long or was already done');
    expect(await count('gus')).toBe(1);
  });

  it("cannot take over another user's credential id, or remove another user's passkey", async () => {
    const hal = await signedIn('hal');
    const key = new SoftAuthenticator();
    expect((await add(hal, key.register(await options(hal), gh.issuer, rpId))).status).toBe(200);
    const ida = await signedIn('ida');
    // Ida registers a key of her own under Hal's credential id.
    const forged = Object.assign(new SoftAuthenticator(), { credentialId: key.credentialId });
    await expectNotAdded(
      await add(ida, forged.register(await options(ida), gh.issuer, rpId)),
      'already registered',
    );
    expect(await count('ida')).toBe(0);
    const removed = await post(ida.ua, '/account/passkeys/remove', { csrf: ida.csrf, id: key.credentialId });
    expect(removed.status).toBe(400);
    expect(await removed.text()).toContain('not one of yours');
    expect((await stored('hal'))!.credentials.map((c) => c.id)).toEqual([key.credentialId]);
  });

  it('refuses every passkey form without the session’s anti-CSRF token, and a browser without a session', async () => {
    const eva = firstSession.eva!;
    const fay = await signedIn('fay');
    const before = await count('eva');
    const id = (await stored('eva'))!.credentials[0]!.id;
    for (const fields of [{}, { csrf: '' }, { csrf: fay.csrf }] as Record<string, string>[]) {
      for (const path of ['/account/passkeys/options', '/account/passkeys/add', '/account/passkeys/remove']) {
        const res = await post(eva.ua, path, { ...fields, id, credential: '{}' });
        expect(res.status).toBe(403);
      }
    }
    const nobody = new UserAgent(gh.issuer);
    for (const path of ['/account/passkeys/options', '/account/passkeys/add', '/account/passkeys/remove']) {
      const res = await post(nobody, path, { csrf: eva.csrf, id });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/account');
    }
    expect(await count('eva')).toBe(before);
  });

  it('removes a passkey only after a fresh sign-in', async () => {
    const s = firstSession.gus!;
    const id = (await stored('gus'))!.credentials[0]!.id;
    await new Promise((r) => setTimeout(r, (FRESH_SECONDS + 1) * 1000));
    const res = await post(s.ua, '/account/passkeys/remove', { csrf: s.csrf, id });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.pathname).toBe('/authorize');
    expect(to.searchParams.get('prompt')).toBe('login');
    expect(await count('gus')).toBe(1);
  });
});
