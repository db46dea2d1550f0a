import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readButtons, type UserAgent } from '../support/browserless.js';
import { codeFlow, discover, silentAuthorization } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const LOGGED_OUT = WEB.post_logout_redirect_uris[0];

/**
 * RP-Initiated Logout 1.0 §2 with logout.confirm "when-needed" (the default): the "Sign out?"
 * page only when the request may not come from the session's own relying party.
 */
describe('GET /logout, logout.confirm "when-needed"', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  async function silentError(ua: UserAgent) {
    const back = await silentAuthorization(web, WEB.redirect_uris[0], ua);
    return back.searchParams.get('error') ?? (back.searchParams.get('code') ? 'code' : 'nothing');
  }

  const isConfirmationPage = async (res: Response) =>
    res.status === 200 && readButtons(await res.text())[0]?.value === 'yes';

  it('signs out without a page for a hint naming this session, to the registered URI with state', async () => {
    const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { res, url } = await ua.follow(
      client.buildEndSessionUrl(web, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: LOGGED_OUT,
        state: 'quiet',
      }).href,
    );
    expect(res.status).toBe(303);
    expect(url).toBe(`${LOGGED_OUT}?state=quiet`);
    expect(await silentError(ua)).toBe('login_required');
  });

  it('without post_logout_redirect_uri, signs out to the success page', async () => {
    const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { res, url } = await ua.follow(
      client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token! }).href,
    );
    expect(new URL(url).pathname).toBe('/logout/success');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Signed out');
    expect(await silentError(ua)).toBe('login_required');
  });

  it('revokes grants without offline_access; offline ones outlive the session', async () => {
    const online = await codeFlow(web, WEB.redirect_uris[0], { scope: 'openid email' });
    const offline = await codeFlow(
      web,
      WEB.redirect_uris[0],
      { scope: 'openid email offline_access', prompt: 'consent' },
      { ua: online.ua },
    );
    const { url } = await online.ua.follow(
      client.buildEndSessionUrl(web, {
        id_token_hint: offline.tokens.id_token!,
        post_logout_redirect_uri: LOGGED_OUT,
      }).href,
    );
    expect(url).toBe(LOGGED_OUT);
    expect(await client.tokenIntrospection(web, online.tokens.access_token)).toEqual({ active: false });
    expect((await client.tokenIntrospection(web, offline.tokens.access_token)).active).toBe(true);
  });

  it('asks when there is no hint', async () => {
    const { ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const { res } = await ua.follow(
      client.buildEndSessionUrl(web, { client_id: WEB.client_id, post_logout_redirect_uri: LOGGED_OUT }).href,
    );
    expect(await isConfirmationPage(res)).toBe(true);
    expect(await silentError(ua)).toBe('code');
  });

  it('refuses an invalid hint with the error page, and the session stays', async () => {
    const { tokens, ua } = await codeFlow(web, WEB.redirect_uris[0]);
    const [header, payload] = tokens.id_token!.split('.');
    const { res } = await ua.follow(`${gh.issuer}/logout?id_token_hint=${header}.${payload}.AAAA`);
    expect(res.status).toBe(400);
    expect(await silentError(ua)).toBe('code');
  });
});
