import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readButtons, readForm, signIn, UserAgent } from '../support/browserless.js';
import { codeFlow, discover } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const LOGGED_OUT = WEB.post_logout_redirect_uris[0];

/**
 * Authorization and end-session requests sent as form POSTs (OpenID Connect Core §3.1.2.1,
 * RP-Initiated Logout 1.0 §2): openid-client builds the parameters, the browser posts them.
 */
describe('POST /authorize and POST /logout', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  async function authorizationRequest(params: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(web, {
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid email',
      state: client.randomState(),
      nonce: client.randomNonce(),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    });
    return { url, verifier, fields: Object.fromEntries(url.searchParams) };
  }

  it('answers a form POST with 303 to the same endpoint, the form as its query', async () => {
    const { fields } = await authorizationRequest();
    const res = await new UserAgent(gh.issuer).request(`${gh.issuer}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!, `${gh.issuer}/authorize`);
    expect(`${location.origin}${location.pathname}`).toBe(`${gh.issuer}/authorize`);
    expect(Object.fromEntries(location.searchParams)).toEqual(fields);
  });

  it('signs in a browser without cookies (a cross-site POST carries none) and returns a code', async () => {
    const { url, verifier } = await authorizationRequest();
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice, {
      consent: 'allow',
      method: 'POST',
    });
    const tokens = await client.authorizationCodeGrant(web, callback, {
      pkceCodeVerifier: verifier,
      expectedState: url.searchParams.get('state')!,
      expectedNonce: url.searchParams.get('nonce')!,
    });
    expect(tokens.claims()?.sub).toBe(TEST_USERS.alice.claims.sub);
  });

  it('answers prompt=none without a session with login_required at the redirect_uri', async () => {
    const { fields } = await authorizationRequest({ prompt: 'none', state: 'silent' });
    const { url } = await new UserAgent(gh.issuer).submit(`${gh.issuer}/authorize`, fields);
    const back = new URL(url);
    expect(`${back.origin}${back.pathname}`).toBe(WEB.redirect_uris[0]);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('state')).toBe('silent');
  });

  it('sees the existing session: prompt=none by POST returns a code when signed in', async () => {
    const { ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { fields } = await authorizationRequest({ prompt: 'none', scope: 'openid email' });
    const { url } = await ua.submit(`${gh.issuer}/authorize`, fields);
    expect(new URL(url).searchParams.get('code')).toEqual(expect.any(String));
  });

  it('refuses a POST body that is not a form, with the OAuth error shape', async () => {
    const res = await fetch(`${gh.issuer}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: WEB.client_id }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('refuses parameters too long to become a query with 413, not a redirect nobody can follow', async () => {
    const { fields } = await authorizationRequest({ login_hint: 'x'.repeat(9000) });
    const res = await fetch(`${gh.issuer}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('POST /logout without a hint shows the confirmation page, whose form signs out', async () => {
    const { ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const page = await ua.submit(`${gh.issuer}/logout`, {
      client_id: WEB.client_id,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'posted',
    });
    expect(page.res.status).toBe(200);
    const html = await page.res.text();
    expect(readButtons(html)[0]).toEqual({ name: 'logout', value: 'yes', label: 'Yes, sign me out' });
    const form = readForm(html);
    const done = await ua.submit(new URL(form.action, page.url).href, { ...form.fields, logout: 'yes' });
    expect(done.url).toBe(`${LOGGED_OUT}?state=posted`);
    const { fields } = await authorizationRequest({ prompt: 'none' });
    const silent = await ua.submit(`${gh.issuer}/authorize`, fields);
    expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
  });

  it("POST /logout with the session's id_token_hint signs out without a page", async () => {
    const { ua, tokens } = await codeFlow(web, WEB.redirect_uris[0]);
    const done = await ua.submit(`${gh.issuer}/logout`, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'quiet',
    });
    expect(done.url).toBe(`${LOGGED_OUT}?state=quiet`);
  });
});
