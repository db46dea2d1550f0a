import { createHash, randomBytes } from 'node:crypto';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { createFactors, configuredTotpSecrets } from '../../src/mfa/factors.js';
import { BOB_SCRYPT, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { redeemCode } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

const WEB = TEST_CLIENTS.web;
/**
 * Enrolled users, one per test: a code's time step, once used, is refused for that user for a
 * minute and a half, so tests that shared a user would refuse each other's codes.
 */
const enrolled = (n: number) => ({
  username: `carol${n}`,
  password: 'correct horse battery staple',
  totp: TEST_TOTP_SECRET,
  claims: { sub: `carol-000${n}` },
});
const USERS = [...[1, 2, 3, 4, 5, 6].map(enrolled), { ...TEST_USERS.bob, password: BOB_SCRYPT }];
const login = (user: { username: string; password: string }) => ({
  username: user.username,
  password: user.password,
});

/** An authorization request of web-app with PKCE; returns its URL and verifier. */
function authorization(issuer: string, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: WEB.client_id,
    response_type: 'code',
    redirect_uri: WEB.redirect_uris[0],
    scope: 'openid',
    state: 's',
    nonce: 'n',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url: url.href, verifier };
}

const payload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe.each(['memory', 'redis'] as const)('TOTP second factor (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      overrides: { users: USERS },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  /** Signs in with a password and returns the page that follows it. */
  async function afterPassword(user: { username: string; password: string }, ua = new UserAgent(gh.issuer)) {
    const { url } = authorization(gh.issuer);
    const login = await ua.follow(url);
    const form = readForm(await login.res.text());
    const { res, url: at } = await ua.submit(new URL(form.action, login.url).href, {
      ...form.fields,
      ...user,
    });
    return { ua, res, html: await res.text(), at };
  }

  async function postCode(ua: UserAgent, html: string, at: string, otp: string) {
    const form = readForm(html);
    const { res, url } = await ua.submit(new URL(form.action, at).href, { ...form.fields, otp });
    return { res, url, html: res.status < 300 || res.status >= 400 ? await res.text() : '' };
  }

  it('asks an enrolled user for a code after the password; the ID token says pwd, otp, mfa', async () => {
    const step = await afterPassword(login(enrolled(1)));
    expect(step.res.status).toBe(200);
    expect(step.html).toContain('name="otp"');
    const form = readForm(step.html);
    expect(form.action).toMatch(/^\/interaction\/[\w-]+\/otp$/);
    expect(form.fields.csrf).toMatch(/^[\w-]{40,}$/);

    const ua = new UserAgent(gh.issuer);
    const { url, verifier } = authorization(gh.issuer);
    const callback = await signIn(ua, url, login(enrolled(1)), {
      otp: () => totpCode(TEST_TOTP_SECRET, Date.now(), 1),
    });
    const tokens = await redeemCode(gh.issuer, callback.searchParams.get('code')!, verifier);
    expect(tokens.status).toBe(200);
    const idToken = payload(tokens.body.id_token!);
    expect(idToken.sub).toBe(enrolled(1).claims.sub);
    expect(idToken.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('does not ask a user without a second factor; the ID token says pwd', async () => {
    const ua = new UserAgent(gh.issuer);
    const { url, verifier } = authorization(gh.issuer);
    const callback = await signIn(ua, url, TEST_USERS.bob, {
      otp: () => {
        throw new Error('bob was asked for a code');
      },
    });
    const tokens = await redeemCode(gh.issuer, callback.searchParams.get('code')!, verifier);
    expect(payload(tokens.body.id_token!).amr).toEqual(['pwd']);
  });

  it('refuses a wrong code with the page again, then takes the right one', async () => {
    const { ua, html, at } = await afterPassword(login(enrolled(2)));
    const right = totpCode(TEST_TOTP_SECRET, Date.now(), -1);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    const refused = await postCode(ua, html, at, wrong);
    expect(refused.res.status).toBe(401);
    expect(refused.html).toContain('role="alert"');
    expect(refused.html).toContain('name="otp"');
    const accepted = await postCode(ua, refused.html, at, right);
    expect(accepted.url).toMatch(/^https:\/\/rp\.example\.com\/|\/interaction\//);
    expect(accepted.html).not.toContain('name="otp"');
  });

  it('refuses a code already used in its window, also in another sign-in', async () => {
    const code = totpCode(TEST_TOTP_SECRET, Date.now(), 0);
    const first = await afterPassword(login(enrolled(3)));
    const used = await postCode(first.ua, first.html, first.at, code);
    expect(used.html).not.toContain('name="otp"');
    const second = await afterPassword(login(enrolled(3)));
    const replayed = await postCode(second.ua, second.html, second.at, code);
    expect(replayed.res.status).toBe(401);
    expect(replayed.html).toContain('already used');
  });

  it('accepts a recovery code in the same field once, and spends it', async () => {
    const factors = createFactors(gh.store, configuredTotpSecrets(USERS));
    const codes = await factors.newRecoveryCodes(enrolled(4).claims.sub);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const ua = new UserAgent(gh.issuer);
    const { url, verifier } = authorization(gh.issuer);
    const callback = await signIn(ua, url, login(enrolled(4)), { otp: () => codes[3]!.toUpperCase() });
    const tokens = await redeemCode(gh.issuer, callback.searchParams.get('code')!, verifier);
    expect(payload(tokens.body.id_token!).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(await factors.recoveryCodesLeft(enrolled(4).claims.sub)).toBe(9);

    const again = await afterPassword(login(enrolled(4)));
    const spent = await postCode(again.ua, again.html, again.at, codes[3]!);
    expect(spent.res.status).toBe(401);
    // Nothing kept in the store is a code in clear.
    const record = JSON.stringify(await gh.store.getRecord(`mfa:${enrolled(4).claims.sub}`));
    for (const code of codes) expect(record).not.toContain(code.replace('-', ''));
  });

  it('asks for the code again when the relying party asks for a fresh sign-in (prompt=login, max_age=0)', async () => {
    const ua = new UserAgent(gh.issuer);
    // Three sign-ins, each with a code of a later time step than the one before.
    const offsets = [-1, 0, 1];
    const asked: string[] = [];
    const nextCode = () => {
      const code = totpCode(TEST_TOTP_SECRET, Date.now(), offsets.shift()!);
      asked.push(code);
      return code;
    };
    await signIn(ua, authorization(gh.issuer).url, login(enrolled(5)), { otp: nextCode });
    for (const extra of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const again = authorization(gh.issuer, extra);
      const callback = await signIn(ua, again.url, login(enrolled(5)), { otp: nextCode });
      expect(callback.searchParams.get('code')).toBeTruthy();
    }
    expect(asked).toHaveLength(3);
  });
});

describe('TOTP second factor across two instances on one Redis', () => {
  let redis: RedisServer;
  const instances: RunningGatehouse[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    for (let i = 0; i < 2; i += 1) {
      instances.push(
        await startTestGatehouse({ env: { REDIS_URL: redis.url }, overrides: { users: USERS } }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(instances.map((gh) => gh.stop()));
    await redis?.destroy();
  });

  it('refuses on one instance a code used on the other, and shares recovery codes', async () => {
    const [a, b] = instances as [RunningGatehouse, RunningGatehouse];
    const code = totpCode(TEST_TOTP_SECRET, Date.now(), 0);
    const post = async (gh: RunningGatehouse, otp: string) => {
      const ua = new UserAgent(gh.issuer);
      const login = await ua.follow(authorization(gh.issuer).url);
      const form = readForm(await login.res.text());
      const step = await ua.submit(new URL(form.action, login.url).href, { ...form.fields, ...login6 });
      const codeForm = readForm(await step.res.text());
      return ua.request(new URL(codeForm.action, gh.issuer).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...codeForm.fields, otp }).toString(),
      });
    };
    const login6 = login(enrolled(6));
    expect((await post(a, code)).status).toBe(303);
    expect((await post(b, code)).status).toBe(401);
    const codes = await createFactors(a.store, configuredTotpSecrets(USERS)).newRecoveryCodes(
      enrolled(6).claims.sub,
    );
    expect((await post(b, codes[0]!)).status).toBe(303);
    expect((await post(a, codes[0]!)).status).toBe(401);
  });
});
