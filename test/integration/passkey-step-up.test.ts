import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { ACR_MULTI_FACTOR, ACR_PHISHING_RESISTANT, KNOWN_ACR_VALUES } from '../../src/mfa/acr.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { authorizationRequest, discover } from '../support/rp-client.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

/**
 * Step-up to `phr` (phishing-resistant, OpenID EAP ACR Values) with passkeys: a user who holds a
 * passkey is asked for one of their own (never a code) and the ID token says `acr` "phr", read
 * by openid-client. Passkeys are answered by a software authenticator over HTTP.
 */
const WEB = TEST_CLIENTS.web;
const REDIRECT = WEB.redirect_uris[0]!;
const PASSWORD = 'correct horse battery staple';
const USERS = [
  // TOTP from the configuration, and a passkey added in the test.
  { username: 'tia', password: PASSWORD, totp: TEST_TOTP_SECRET, claims: { sub: 'tia-sub' } },
  { username: 'ugo', password: PASSWORD, claims: { sub: 'ugo-sub' } },
  { username: 'val', password: PASSWORD, claims: { sub: 'val-sub' } },
];
const PHR_ESSENTIAL = JSON.stringify({
  id_token: { acr: { essential: true, values: [ACR_PHISHING_RESISTANT] } },
});

type Step = 'password' | 'otp' | 'passkey' | 'consent';

describe.each(['memory', 'redis'] as const)('step-up to phr with a passkey (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let config: client.Configuration;
  let rpId: string;
  const keys: Record<string, SoftAuthenticator> = {};
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      overrides: { users: USERS, acrValues: [...KNOWN_ACR_VALUES] },
    });
    config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    rpId = new URL(gh.issuer).hostname;
    keys.tia = await enrol('tia', new SoftAuthenticator(), () => totpCode(TEST_TOTP_SECRET, Date.now(), -1));
    keys.ugo = await enrol('ugo', new SoftAuthenticator());
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const post = (ua: UserAgent, path: string, fields: Record<string, string>) =>
    ua.request(new URL(path, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  /** Signs in to /account (password, and the code when asked) and adds `key` as a passkey. */
  async function enrol(name: string, key: SoftAuthenticator, otp?: () => string) {
    const ua = new UserAgent(gh.issuer);
    const first = await ua.follow(`${gh.issuer}/account`);
    const login = readForm(await first.res.text());
    let { res } = await ua.submit(new URL(login.action, first.url).href, {
      ...login.fields,
      username: name,
      password: PASSWORD,
    });
    let html = await res.text();
    if (otp && /name="otp"/.test(html)) {
      const form = readForm(html);
      ({ res } = await ua.submit(new URL(form.action, gh.issuer).href, { ...form.fields, otp: otp() }));
      html = await res.text();
    }
    const csrf = readForm(html).fields.csrf!;
    const options = await (await post(ua, '/account/passkeys/options', { csrf })).json();
    const added = await post(ua, '/account/passkeys/add', {
      csrf,
      credential: JSON.stringify(key.register(options, gh.issuer, rpId)),
    });
    expect(added.status).toBe(200);
    return key;
  }

  const request = (params: Record<string, string> = {}) => authorizationRequest(config, REDIRECT, params);

  /**
   * Drives the pages like a person: the password, a code, the passkey (answered by `key` for the
   * options the page's script would fetch), Allow. Records each page; stops at the redirect_uri.
   */
  async function drive(
    ua: UserAgent,
    url: URL,
    answers: { user?: string; key?: SoftAuthenticator; otp?: boolean },
  ) {
    const steps: Step[] = [];
    let { res, url: at } = await ua.follow(url.href);
    for (let i = 0; i < 6; i += 1) {
      if (at.startsWith(REDIRECT)) return { steps, callback: new URL(at) };
      const html = await res.text();
      let action: string;
      let fields: Record<string, string>;
      if (/name="password"/.test(html)) {
        steps.push('password');
        ({ action, fields } = readForm(html));
        fields = { ...fields, username: answers.user!, password: PASSWORD };
      } else if (/name="otp"/.test(html) && answers.otp) {
        steps.push('otp');
        ({ action, fields } = readForm(html));
        fields = { ...fields, otp: totpCode(TEST_TOTP_SECRET, Date.now(), 1) };
      } else if (/name="passkey"/.test(html) && answers.key) {
        steps.push('passkey');
        const form = readForm(html, /name="otp"/.test(html) ? 1 : 0);
        expect(form.action).toMatch(/\/passkey$/);
        const options = await (
          await post(ua, `${form.action}/options`, { csrf: form.fields.csrf!, purpose: form.fields.purpose! })
        ).json();
        // Only the signed-in user's passkeys are asked for.
        expect(options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([answers.key.credentialId]);
        action = form.action;
        fields = {
          ...form.fields,
          credential: JSON.stringify(
            answers.key.assert({ challenge: options.challenge, origin: gh.issuer, rpId }),
          ),
        };
      } else if (/Allow access/.test(html)) {
        steps.push('consent');
        ({ action, fields } = readForm(html));
      } else {
        throw new Error(`unexpected page (${res.status}): ${html.slice(0, 600)}`);
      }
      ({ res, url: at } = await ua.submit(new URL(action, at).href, fields));
    }
    throw new Error('too many pages');
  }

  it('asks a signed-in user with a code session for a passkey only, then issues acr phr', async () => {
    const ua = new UserAgent(gh.issuer);
    const first = await request();
    const signedIn = await drive(ua, first.url, { user: 'tia', otp: true });
    expect(signedIn.steps).toEqual(['password', 'otp', 'consent']);
    expect(await first.redeem(signedIn.callback)).toMatchObject({
      acr: ACR_MULTI_FACTOR,
      amr: ['pwd', 'otp', 'mfa'],
    });

    // Asking for phr: no password again, no code field (a code would not meet it), Tia's passkey.
    const phr = await request({ acr_values: ACR_PHISHING_RESISTANT });
    const page = await ua.follow(phr.url.href);
    const html = await page.res.text();
    expect(html).toContain('name="passkey"');
    expect(html).not.toContain('name="otp"');
    expect(html).not.toContain('name="password"');
    // A code posted anyway is refused.
    const uid = /\/interaction\/([^/]+)\/passkey/.exec(html)![1]!;
    const csrf = readForm(html).fields.csrf!;
    const code = await post(ua, `/interaction/${uid}/otp`, { csrf, otp: totpCode(TEST_TOTP_SECRET) });
    expect(code.status).toBe(400);
    const stepped = await drive(ua, phr.url, { key: keys.tia! });
    expect(stepped.steps).toEqual(['passkey']);
    const claims = await phr.redeem(stepped.callback);
    expect(claims).toMatchObject({ acr: ACR_PHISHING_RESISTANT, sub: 'tia-sub' });
    // The session's methods, the passkey's added, each once.
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa', 'hwk', 'user']);
  });

  it('asks for the passkey right after the password when a new sign-in wants phr (acr_values or essential)', async () => {
    for (const params of [{ acr_values: ACR_PHISHING_RESISTANT }, { claims: PHR_ESSENTIAL }] as Record<
      string,
      string
    >[]) {
      const { url, redeem } = await request(params);
      const done = await drive(new UserAgent(gh.issuer), url, { user: 'ugo', key: keys.ugo! });
      expect(done.steps).toEqual(['password', 'passkey', 'consent']);
      expect(await redeem(done.callback)).toMatchObject({
        acr: ACR_PHISHING_RESISTANT,
        amr: ['pwd', 'hwk', 'user', 'mfa'],
      });
    }
  });

  it("refuses another user's passkey at the phr step, and signs no one in", async () => {
    const { url } = await request({ acr_values: ACR_PHISHING_RESISTANT });
    const ua = new UserAgent(gh.issuer);
    const login = await ua.follow(url.href);
    const form = readForm(await login.res.text());
    const { res } = await ua.submit(new URL(form.action, login.url).href, {
      ...form.fields,
      username: 'ugo',
      password: PASSWORD,
    });
    const html = await res.text();
    const passkeyForm = readForm(html, 0);
    const options = await (
      await post(ua, `${passkeyForm.action}/options`, {
        csrf: passkeyForm.fields.csrf!,
        purpose: 'second-factor',
      })
    ).json();
    const refused = await post(ua, passkeyForm.action, {
      ...passkeyForm.fields,
      credential: JSON.stringify(keys.tia!.assert({ challenge: options.challenge, origin: gh.issuer, rpId })),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('location')).toBeNull();
    expect(await refused.text()).toContain('could not be used');
  });

  it('without a passkey, essential phr is access_denied (nothing to ask for)', async () => {
    const { url } = await request({ claims: PHR_ESSENTIAL });
    const ua = new UserAgent(gh.issuer);
    let { res, url: at } = await ua.follow(url.href);
    const form = readForm(await res.text());
    ({ res, url: at } = await ua.submit(new URL(form.action, at).href, {
      ...form.fields,
      username: 'val',
      password: PASSWORD,
    }));
    const answer = new URL(at);
    expect(answer.origin + answer.pathname).toBe(REDIRECT);
    expect(answer.searchParams.get('error')).toBe('access_denied');
  });
});
