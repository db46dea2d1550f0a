import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { codeFlow, discover, responseParams } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const CALLBACK = WEB.redirect_uris[0];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GET /authorize: prompt, max_age, login_hint and response_mode', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  /** An authorization request for web-app with PKCE; returns the URL and the verifier. */
  async function request(params: Record<string, string>) {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(web, {
      redirect_uri: CALLBACK,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    });
    return { url, verifier };
  }

  /** Opens the request in `ua`: the page shown, or the redirect to the client. */
  async function open(ua: UserAgent, params: Record<string, string>) {
    const { url } = await request(params);
    const { res, url: at } = await ua.follow(url.href);
    return { status: res.status, at: new URL(at), html: await res.text() };
  }

  describe('prompt=none', () => {
    it('without a session: error=login_required at the client, with state and iss', async () => {
      const { at } = await open(new UserAgent(gh.issuer), { prompt: 'none', state: 'none-1' });
      expect(`${at.origin}${at.pathname}`).toBe(CALLBACK);
      expect(Object.fromEntries(at.searchParams)).toEqual({
        error: 'login_required',
        error_description: expect.any(String),
        state: 'none-1',
        iss: gh.issuer,
      });
    });

    it('with a session and consent given: a code, without any page', async () => {
      const { ua, tokens } = await codeFlow(web, CALLBACK);
      const nonce = client.randomNonce();
      const { url, verifier } = await request({ prompt: 'none', state: 'none-2', nonce });
      const { url: at } = await ua.follow(url.href);
      const silent = await client.authorizationCodeGrant(web, new URL(at), {
        pkceCodeVerifier: verifier,
        expectedState: 'none-2',
        expectedNonce: nonce,
      });
      expect(silent.claims()).toMatchObject({ sub: 'alice-0001', sid: tokens.claims()!.sid });
    });

    it('with a session but a scope not yet consented to: error=consent_required', async () => {
      const { ua } = await codeFlow(web, CALLBACK, { scope: 'openid' });
      const { at } = await open(ua, { prompt: 'none', scope: 'openid profile', state: 'none-3' });
      expect(at.searchParams.get('error')).toBe('consent_required');
      expect(at.searchParams.get('state')).toBe('none-3');
    });

    it('combined with another prompt value: error=invalid_request (OIDC Core §3.1.2.1)', async () => {
      const { at } = await open(new UserAgent(gh.issuer), { prompt: 'none login', state: 'none-4' });
      expect(`${at.origin}${at.pathname}`).toBe(CALLBACK);
      expect(at.searchParams.get('error')).toBe('invalid_request');
      expect(at.searchParams.get('state')).toBe('none-4');
    });
  });

  describe('forcing the login page despite a session', () => {
    it.each([['prompt=login', { prompt: 'login' }] as const, ['max_age=0', { max_age: '0' }] as const])(
      '%s shows the login page, and the new sign-in moves auth_time on',
      async (_name, params) => {
        const first = await codeFlow(web, CALLBACK);
        await sleep(1100); // auth_time has a resolution of one second
        const nonce = client.randomNonce();
        const { url, verifier } = await request({ ...params, state: 'again', nonce });
        const page = await first.ua.follow(url.href);
        const html = await page.res.text();
        expect(page.res.status).toBe(200);
        expect(html).toMatch(/name="password"/);
        expect(readForm(html).fields.username).toBe('alice'); // the signed-in user, pre-filled

        const callback = await signIn(first.ua, url.href, TEST_USERS.alice);
        const again = await client.authorizationCodeGrant(web, callback, {
          pkceCodeVerifier: verifier,
          expectedState: 'again',
          expectedNonce: nonce,
          ...('max_age' in params ? { maxAge: 0 } : {}),
        });
        expect(again.claims()!.auth_time).toBeGreaterThan(first.tokens.claims()!.auth_time!);
      },
    );

    it('without them, a second authorization reuses the session without any page', async () => {
      const { ua } = await codeFlow(web, CALLBACK);
      const { at } = await open(ua, { state: 'quiet' });
      expect(`${at.origin}${at.pathname}`).toBe(CALLBACK);
      expect(at.searchParams.get('code')).toEqual(expect.any(String));
    });
  });

  describe('prompt=consent', () => {
    it('shows the consent page again for scopes already granted', async () => {
      const { ua } = await codeFlow(web, CALLBACK, { scope: 'openid email' });
      const { status, html } = await open(ua, { prompt: 'consent', scope: 'openid email' });
      expect(status).toBe(200);
      expect(html).toMatch(/Allow access/);
      expect(html).not.toMatch(/name="password"/);
    });
  });

  describe('login_hint', () => {
    it('pre-fills the username field of the login page', async () => {
      const { html } = await open(new UserAgent(gh.issuer), { login_hint: 'bob' });
      const form = readForm(html);
      expect(form.fields.username).toBe('bob');
      expect(form.fields).toHaveProperty('password', '');
    });

    it('is escaped in the page, not interpreted', async () => {
      const hint = '"><script>alert(1)</script>';
      const { html } = await open(new UserAgent(gh.issuer), { login_hint: hint });
      expect(html).not.toContain('<script>alert(1)</script>');
      expect(readForm(html).fields.username).toBe(hint);
    });
  });

  describe('response_mode', () => {
    it('fragment: code, state and iss in the fragment, nothing in the query', async () => {
      const nonce = client.randomNonce();
      const { url, verifier } = await request({ response_mode: 'fragment', state: 'frag', nonce });
      const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
      expect(callback.search).toBe('');
      const params = responseParams(callback);
      expect(Object.fromEntries(params)).toEqual({ code: expect.any(String), state: 'frag', iss: gh.issuer });
      // The client reads the fragment and redeems the code as usual.
      const redirect = new URL(`${CALLBACK}?${params}`);
      const tokens = await client.authorizationCodeGrant(web, redirect, {
        pkceCodeVerifier: verifier,
        expectedState: 'frag',
        expectedNonce: nonce,
      });
      expect(tokens.claims()?.sub).toBe('alice-0001');
    });

    it('form_post: a page whose form posts code, state and iss to the redirect_uri', async () => {
      const { ua } = await codeFlow(web, CALLBACK);
      const nonce = client.randomNonce();
      const { url, verifier } = await request({ response_mode: 'form_post', state: 'posted', nonce });
      const page = await ua.follow(url.href);
      expect(page.res.status).toBe(200);
      expect(page.res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.res.text();
      expect(html).toMatch(/<form[^>]*method="post"/i);
      const form = readForm(html);
      expect(form).toEqual({
        action: CALLBACK,
        fields: { code: expect.any(String), state: 'posted', iss: gh.issuer },
      });
      // What the browser would post to the client, handed to openid-client as that request.
      const posted = new Request(CALLBACK, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form.fields).toString(),
      });
      const tokens = await client.authorizationCodeGrant(web, posted, {
        pkceCodeVerifier: verifier,
        expectedState: 'posted',
        expectedNonce: nonce,
      });
      expect(tokens.claims()?.sub).toBe('alice-0001');
    });

    it('refuses a response_mode it does not know, at the client, with state', async () => {
      const { at } = await open(new UserAgent(gh.issuer), { response_mode: 'carrier-pigeon', state: 'rm' });
      expect(`${at.origin}${at.pathname}`).toBe(CALLBACK);
      expect(at.searchParams.get('error')).toBe('unsupported_response_mode');
      expect(at.searchParams.get('state')).toBe('rm');
      expect(at.searchParams.get('iss')).toBe(gh.issuer);
    });
  });
});
