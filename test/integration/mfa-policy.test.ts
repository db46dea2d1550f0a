import { createHash, randomBytes } from 'node:crypto';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { totpCode } from '../support/totp.js';

const WEB = TEST_CLIENTS.web;
const STRICT = {
  ...WEB,
  client_id: 'strict-app',
  client_secret: 'strict-app-secret-0123456789',
  require_mfa: true,
};
const PASSWORD = 'correct horse battery staple';
const user = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });

function authorization(issuer: string, clientId: string, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: WEB.redirect_uris[0],
    scope: 'openid',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url: url.href, verifier };
}

/** Gives the password; returns the page that follows. */
async function password(ua: UserAgent, url: string, username: string) {
  const login = await ua.follow(url);
  const form = readForm(await login.res.text());
  const step = await ua.submit(new URL(form.action, login.url).href, {
    ...form.fields,
    username,
    password: PASSWORD,
  });
  return {
    html: step.res.status < 300 || step.res.status >= 400 ? await step.res.text() : '',
    url: step.url,
    res: step.res,
  };
}

/** Enrols on the sign-in's setup page; returns the secret, the recovery codes and where Continue leads. */
async function enrolDuringSignIn(ua: UserAgent, html: string, base: string) {
  expect(html).toContain('Set up two-step verification');
  const secret = /id="totp-secret"[^>]*>([A-Z2-7 ]+)</.exec(html)![1]!.replace(/ /g, '');
  const form = readForm(html);
  const wrong = await ua.submit(new URL(form.action, base).href, { ...form.fields, otp: '12345' });
  expect(wrong.res.status).toBe(401);
  const right = await ua.submit(new URL(form.action, base).href, {
    ...form.fields,
    otp: totpCode(secret, Date.now(), -1),
  });
  const codesPage = await right.res.text();
  const codes = [...codesPage.matchAll(/<code>([a-z2-9-]+)<\/code>/g)].map((m) => m[1]!);
  expect(codes).toHaveLength(10);
  const next = readForm(codesPage);
  expect(next.action).toMatch(/\/continue$/);
  const done = await ua.submit(new URL(next.action, base).href, next.fields);
  let callback = done.url;
  if (!callback.startsWith(WEB.redirect_uris[0])) {
    // The consent page comes next for a client the user has not allowed yet.
    const allow = readForm(await done.res.text());
    callback = (await ua.submit(new URL(allow.action, done.url).href, allow.fields)).url;
  }
  return { secret, codes, callback };
}

/** Redeems the code as `client` (client_secret_basic) and returns the ID token's amr. */
const amrOf = async (
  issuer: string,
  callback: string,
  verifier: string,
  client: { client_id: string; client_secret: string } = WEB,
) => {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(client.client_id, client.client_secret),
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: new URL(callback).searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: WEB.redirect_uris[0],
    }).toString(),
  });
  const body = (await res.json()) as { id_token: string };
  return JSON.parse(Buffer.from(body.id_token.split('.')[1]!, 'base64url').toString()).amr as string[];
};

describe.each(['memory', 'redis'] as const)('mfa.policy "required" (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      overrides: { users: ['quinn', 'rita'].map(user), mfa: { policy: 'required', freshSignInSeconds: 300 } },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  it('has a user without a factor enrol at sign-in before any code is issued; then asks for the code', async () => {
    const ua = new UserAgent(gh.issuer);
    const first = authorization(gh.issuer, WEB.client_id);
    const step = await password(ua, first.url, 'quinn');
    expect(step.res.status).toBe(200);
    const { secret, callback } = await enrolDuringSignIn(ua, step.html, step.url);
    expect(await amrOf(gh.issuer, callback, first.verifier)).toEqual(['pwd', 'otp', 'mfa']);

    const again = authorization(gh.issuer, WEB.client_id, { prompt: 'login' });
    const next = await password(new UserAgent(gh.issuer), again.url, 'quinn');
    expect(next.html).toContain('name="otp"');
    expect(next.html).toContain('Two-step verification');
    expect(secret).toHaveLength(32);
  });

  it('never ends the sign-in without the enrolment: Continue before the code, or a cancelled setup', async () => {
    const ua = new UserAgent(gh.issuer);
    const step = await password(ua, authorization(gh.issuer, WEB.client_id).url, 'rita');
    const form = readForm(step.html);
    const early = await ua.submit(
      new URL(form.action.replace(/\/otp$/, '/continue'), step.url).href,
      form.fields,
    );
    expect(early.res.status).toBe(400);
    const abort = readForm(step.html, 1);
    const cancelled = await ua.submit(new URL(abort.action, step.url).href, abort.fields);
    expect(new URL(cancelled.url).searchParams.get('error')).toBe('access_denied');
    expect(await gh.store.getRecord('mfa:rita-sub')).toBeUndefined();
  });
});

describe('client metadata require_mfa', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: { clients: [WEB, STRICT], users: ['sam', 'tess'].map(user) },
    });
  });
  afterAll(() => gh?.stop());

  it('signs in with one factor to other clients, asks for two for this one; prompt=none answers login_required', async () => {
    const ua = new UserAgent(gh.issuer);
    const plain = authorization(gh.issuer, WEB.client_id);
    const step = await password(ua, plain.url, 'sam');
    // web-app: straight on (consent page next), no second factor.
    expect(step.html).not.toContain('name="otp"');
    expect(step.html).not.toContain('totp-secret');

    const silent = authorization(gh.issuer, STRICT.client_id, { prompt: 'none' });
    const refused = await ua.follow(silent.url);
    const back = new URL(refused.url);
    expect(back.origin + back.pathname).toBe(WEB.redirect_uris[0]);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('code')).toBeNull();

    // Interactively: the sign-in page again, then the enrolment.
    const strict = authorization(gh.issuer, STRICT.client_id);
    const again = await password(ua, strict.url, 'sam');
    const { callback } = await enrolDuringSignIn(ua, again.html, again.url);
    expect(await amrOf(gh.issuer, callback, strict.verifier, STRICT)).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('refuses a client whose require_mfa is not a boolean, and an unknown policy', () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { mfa: { policy: 'sometimes', freshSignInSeconds: 300 } } }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({ env: {}, overrides: { clients: [{ ...STRICT, require_mfa: 'yes' }] } }),
    ).toThrow(ConfigError);
  });
});
