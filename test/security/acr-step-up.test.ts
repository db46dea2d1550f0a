import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import {
  ACR_MULTI_FACTOR,
  ACR_PASSWORD,
  ACR_PHISHING_RESISTANT,
  KNOWN_ACR_VALUES,
} from '../../src/mfa/acr.js';
import { createFactors } from '../../src/mfa/factors.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { authorizationRequest, discover } from '../support/rp-client.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

/**
 * Trust boundary: the authorization request's `acr_values` and `claims` against the session's
 * real sign-in. A relying party (or whoever edits its URL) must not be told a context was met
 * that was not: no echo of made-up values, no essential request quietly answered with less, no
 * step-up skipped by reusing an earlier interaction.
 */
const WEB = TEST_CLIENTS.web;
const REDIRECT = WEB.redirect_uris[0]!;
const PASSWORD = 'correct horse battery staple';
const user = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });

describe('acr step-up cannot be forged, downgraded or skipped', () => {
  let gh: RunningGatehouse;
  let config: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        users: ['ann', 'ben', 'cal', 'dot', 'eve', 'fay'].map(user),
        // An operator's own value besides the known ones: advertised and echoed, as before.
        acrValues: [...KNOWN_ACR_VALUES, 'urn:example:acr:branch-office'],
      },
    });
    config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  const request = async (params: Record<string, string> = {}) => {
    const { url, redeem } = await authorizationRequest(config, REDIRECT, params);
    return { url: url.href, redeem };
  };

  /** Password (and consent) for `name` in `ua`; returns where the browser lands. */
  async function signIn(ua: UserAgent, url: string, name: string) {
    const login = await ua.follow(url);
    const form = readForm(await login.res.text());
    let step = await ua.submit(new URL(form.action, login.url).href, {
      ...form.fields,
      username: name,
      password: PASSWORD,
    });
    if (!step.url.startsWith(REDIRECT)) {
      const html = await step.res.text();
      if (/Allow access/.test(html)) {
        const allow = readForm(html);
        step = await ua.submit(new URL(allow.action, step.url).href, allow.fields);
      } else return { ...step, html };
    }
    return { ...step, html: '' };
  }

  const enrolNow = (sub: string) => createFactors(gh.store, new Map()).setTotp(sub, TEST_TOTP_SECRET);

  it('never echoes a value it does not support, nor one the sign-in did not meet', async () => {
    const forged = await request({
      acr_values: `urn:evil:acr:gold ${ACR_PHISHING_RESISTANT} ${ACR_MULTI_FACTOR}`,
    });
    const done = await signIn(new UserAgent(gh.issuer), forged.url, 'ann');
    const claims = await forged.redeem(done.url);
    expect(claims.acr).toBe(ACR_PASSWORD);
    expect(claims.amr).toEqual(['pwd']);

    // The operator's own value is still echoed when asked for (the behaviour before known levels).
    const own = await request({ acr_values: 'urn:example:acr:branch-office' });
    const ownDone = await signIn(new UserAgent(gh.issuer), own.url, 'ann');
    expect((await own.redeem(ownDone.url)).acr).toBe('urn:example:acr:branch-office');
  });

  it('refuses an essential acr of unknown values instead of signing in with another', async () => {
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:evil:acr:gold'] } } });
    const req = await request({ claims });
    const done = await signIn(new UserAgent(gh.issuer), req.url, 'ben');
    expect(new URL(done.url).searchParams.get('error')).toBe('access_denied');
    expect(new URL(done.url).searchParams.get('code')).toBeNull();
  });

  it('keeps an essential acr essential when acr_values asks for less', async () => {
    const ua = new UserAgent(gh.issuer);
    await signIn(ua, (await request()).url, 'cal');
    await enrolNow('cal-sub');
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_MULTI_FACTOR] } } });
    // oidc-provider lets acr_values replace the claim in its context; Gatehouse reads both.
    const silent = await request({ claims, acr_values: ACR_PASSWORD, prompt: 'none' });
    const refused = await ua.follow(silent.url);
    expect(new URL(refused.url).searchParams.get('error')).toBe('login_required');
    expect(new URL(refused.url).searchParams.get('code')).toBeNull();

    const asked = await request({ claims, acr_values: ACR_PASSWORD });
    const page = await ua.follow(asked.url);
    const html = await page.res.text();
    expect(html).toContain('name="otp"');
    // Cancel on the code page: access_denied, no token with one factor.
    const abort = readForm(html, 1);
    const cancelled = await ua.submit(new URL(abort.action, page.url).href, abort.fields);
    expect(new URL(cancelled.url).searchParams.get('error')).toBe('access_denied');
  });

  it('cannot skip a step-up by resuming the interaction unfinished or replaying an older one', async () => {
    const ua = new UserAgent(gh.issuer);
    // The first sign-in: keep its resume URL (/authorize/<uid>) to replay later.
    const first = await request();
    const login = await ua.follow(first.url);
    const form = readForm(await login.res.text());
    const posted = await ua.request(new URL(form.action, login.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, username: 'dot', password: PASSWORD }).toString(),
    });
    const oldResume = new URL(posted.headers.get('location')!, login.url).href;
    const landed = await ua.follow(oldResume);
    const allow = readForm(await landed.res.text());
    await ua.submit(new URL(allow.action, landed.url).href, allow.fields);
    await enrolNow('dot-sub');

    const stepUp = await request({ acr_values: ACR_MULTI_FACTOR });
    const codePage = await ua.follow(stepUp.url);
    const codeHtml = await codePage.res.text();
    expect(codeHtml).toContain('name="otp"');
    const uid = /\/interaction\/([^/]+)\/otp/.exec(codeHtml)![1]!;

    for (const replay of [oldResume, `${gh.issuer}/authorize/${uid}`]) {
      const res = await ua.follow(replay);
      expect(res.url.startsWith(REDIRECT) && new URL(res.url).searchParams.has('code')).toBe(false);
    }

    // The step-up is still waiting for its code; once given, it ends with two factors.
    const again = await ua.follow(stepUp.url);
    const html = await again.res.text();
    expect(html).toContain('name="otp"');
    const code = readForm(html);
    const done = await ua.submit(new URL(code.action, again.url).href, {
      ...code.fields,
      otp: totpCode(TEST_TOTP_SECRET),
    });
    const tokens = await stepUp.redeem(done.url);
    expect(tokens.acr).toBe(ACR_MULTI_FACTOR);
    // Posting the same code form again: nothing pending, refused.
    const replayed = await ua.submit(new URL(code.action, again.url).href, {
      ...code.fields,
      otp: totpCode(TEST_TOTP_SECRET),
    });
    expect(replayed.res.status).toBeGreaterThanOrEqual(400);
    expect(replayed.url.startsWith(REDIRECT)).toBe(false);
  });

  it('tells a relying party only what another user signing in on a step-up met', async () => {
    // On a step-up's code page someone posts the login form as another user (one factor, none
    // enrolled): they are signed in, and the ID token says so, not the level that was asked for.
    const ua = new UserAgent(gh.issuer);
    await signIn(ua, (await request()).url, 'eve');
    await enrolNow('eve-sub');
    const stepUp = await request({ acr_values: ACR_MULTI_FACTOR });
    const page = await ua.follow(stepUp.url);
    const codeForm = readForm(await page.res.text());
    let step = await ua.submit(new URL(codeForm.action.replace(/\/otp$/, '/login'), page.url).href, {
      csrf: codeForm.fields.csrf!,
      username: 'fay',
      password: PASSWORD,
    });
    // Consent for fay (it may be asked twice when the session switches to another user).
    for (let i = 0; i < 3 && !step.url.startsWith(REDIRECT); i += 1) {
      const html = await step.res.text();
      const allow = readForm(html);
      step = await ua.submit(new URL(allow.action, step.url).href, allow.fields);
    }
    const claims = await stepUp.redeem(step.url);
    expect(claims.sub).toBe('fay-sub');
    expect(claims.acr).toBe(ACR_PASSWORD);
    expect(claims.amr).toEqual(['pwd']);
  });
});
