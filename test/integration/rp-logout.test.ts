import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readButtons, readForm, type UserAgent } from '../support/browserless.js';
import { codeFlow, discover } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const SPA = TEST_CLIENTS.spa;
const LOGGED_OUT = WEB.post_logout_redirect_uris[0];
const STATE = 'a+b/c=d~e.f_g-h%20';

// These tests answer the confirmation page, so it is always shown (logout.confirm "always");
// rp-logout-quiet.test.ts covers the default, which skips it for a hint naming the session.
describe('GET /logout (OpenID Connect RP-Initiated Logout 1.0), logout.confirm "always"', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { logout: { confirm: 'always' } } });
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  /** Opens the logout URL in `ua` and answers the confirmation page (logout=yes, or Cancel). */
  async function logout(ua: UserAgent, params: Record<string, string>, choice: 'logout' | 'cancel') {
    const page = await ua.follow(client.buildEndSessionUrl(web, params).href);
    const html = await page.res.text();
    const form = readForm(html);
    const res = await ua.request(new URL(form.action, page.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...(choice === 'logout' ? { logout: 'yes' } : {}) }),
    });
    return { page: { status: page.res.status, html, form }, res };
  }

  /** Where a prompt=none authorization request for web-app sends this browser. */
  async function silentAuthorization(ua: UserAgent) {
    const url = client.buildAuthorizationUrl(web, {
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid',
      prompt: 'none',
      state: 'silent',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    return new URL((await ua.follow(url.href)).url);
  }

  it('is the end_session_endpoint discovery names', () => {
    expect(web.serverMetadata().end_session_endpoint).toBe(`${gh.issuer}/logout`);
  });

  it('asks for confirmation, with the form secret and a "logout=yes" button', async () => {
    const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const page = await ua.follow(
      client.buildEndSessionUrl(web, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: LOGGED_OUT,
      }).href,
    );
    expect(page.res.status).toBe(200);
    const html = await page.res.text();
    expect(readForm(html)).toEqual({
      action: `${gh.issuer}/logout/confirm`,
      fields: { xsrf: expect.stringMatching(/.+/) },
    });
    expect(readButtons(html)).toEqual([
      { name: 'logout', value: 'yes', label: 'Yes, sign me out' },
      { label: 'Cancel, stay signed in' },
    ]);
  });

  describe('with id_token_hint, post_logout_redirect_uri and state, confirmed', () => {
    it('redirects to post_logout_redirect_uri with the same state, and ends the session', async () => {
      const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
      expect((await silentAuthorization(ua)).searchParams.get('code')).toEqual(expect.any(String));

      const { res } = await logout(
        ua,
        { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT, state: STATE },
        'logout',
      );
      expect(res.status).toBe(303);
      const back = new URL(res.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(LOGGED_OUT);
      expect(Object.fromEntries(back.searchParams)).toEqual({ state: STATE });

      const silent = await silentAuthorization(ua);
      expect(`${silent.origin}${silent.pathname}`).toBe(WEB.redirect_uris[0]);
      expect(silent.searchParams.get('error')).toBe('login_required');
      expect(silent.searchParams.get('state')).toBe('silent');
      expect(silent.searchParams.get('iss')).toBe(gh.issuer);
    });

    it('revokes the tokens of grants without offline_access; offline ones outlive the session', async () => {
      const online = await codeFlow(web, WEB.redirect_uris[0], { scope: 'openid email' });
      const offline = await codeFlow(
        web,
        WEB.redirect_uris[0],
        { scope: 'openid email offline_access', prompt: 'consent' },
        { ua: online.ua },
      );
      await logout(
        online.ua,
        { id_token_hint: offline.tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT },
        'logout',
      );

      expect(await client.tokenIntrospection(web, online.tokens.access_token)).toEqual({ active: false });
      expect((await client.tokenIntrospection(web, offline.tokens.access_token)).active).toBe(true);
      const refreshed = await client.refreshTokenGrant(web, offline.tokens.refresh_token!);
      expect(refreshed.access_token).toEqual(expect.any(String));
    });
  });

  it('accepts client_id in place of id_token_hint', async () => {
    const { ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { res } = await logout(
      ua,
      { client_id: WEB.client_id, post_logout_redirect_uri: LOGGED_OUT, state: 'by-client-id' },
      'logout',
    );
    expect(res.headers.get('location')).toBe(`${LOGGED_OUT}?state=by-client-id`);
    expect((await silentAuthorization(ua)).searchParams.get('error')).toBe('login_required');
  });

  it('keeps the browser signed in when the user cancels, and still returns to the client with state', async () => {
    const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { res } = await logout(
      ua,
      { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT, state: 'stay' },
      'cancel',
    );
    expect(res.headers.get('location')).toBe(`${LOGGED_OUT}?state=stay`);
    // Signed in still: a new authorization asks for consent, not for the password.
    const again = await ua.follow(
      client.buildAuthorizationUrl(web, {
        redirect_uri: WEB.redirect_uris[0],
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).href,
    );
    const html = await again.res.text();
    expect(html).toMatch(/Allow access/);
    expect(html).not.toMatch(/name="password"/);
  });

  describe('refusals', () => {
    it('refuses a post_logout_redirect_uri the client did not register, without redirecting', async () => {
      const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
      const res = await ua.request(
        client.buildEndSessionUrl(web, {
          id_token_hint: tokens.id_token!,
          post_logout_redirect_uri: 'https://evil.example.com/logged-out',
        }).href,
        { headers: { accept: 'application/json' } },
      );
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'post_logout_redirect_uri not registered',
      });
    });

    it("refuses another client's post_logout_redirect_uri with this client's id_token_hint", async () => {
      const spa = await discover(gh.issuer, SPA, client.None());
      const { tokens, ua } = await codeFlow(spa, SPA.redirect_uris[0]);
      const url = new URL(`${gh.issuer}/logout`);
      url.search = new URLSearchParams({
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: LOGGED_OUT,
      }).toString();
      const res = await ua.request(url.href, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });

    it('refuses a confirmation posted without the form secret, and the session stays', async () => {
      const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
      await ua.follow(client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token! }).href);
      const res = await ua.request(`${gh.issuer}/logout/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout: 'yes', xsrf: 'forged' }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect((await silentAuthorization(ua)).searchParams.get('code')).toEqual(expect.any(String));
    });
  });
});
