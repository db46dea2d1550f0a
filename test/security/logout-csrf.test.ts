import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readButtons, type UserAgent } from '../support/browserless.js';
import { authorize, codeFlow, discover, silentAuthorization } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const LOGGED_OUT = WEB.post_logout_redirect_uris[0];

/**
 * Trust boundary: `/logout` reached from another site (a link, an image, a form). With
 * logout.confirm "when-needed" (the default) only an id_token_hint naming the browser's current
 * session signs it out without asking; any other hint an attacker can obtain (their own, the
 * victim's from another browser or an earlier session, a tampered or unsigned one) must leave
 * the victim signed in: the confirmation page, or an error.
 */
describe('logout CSRF with id_token_hint', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(() => gh?.stop());

  /** Whether `ua` is still signed in: prompt=none returns a code rather than login_required. */
  async function stillSignedIn(ua: UserAgent) {
    return (await silentAuthorization(web, WEB.redirect_uris[0], ua)).searchParams.has('code');
  }

  /** Sends the victim's browser to /logout with `hint`, by GET or by a (cross-site) form POST. */
  async function logoutWith(ua: UserAgent, hint: string, method: 'GET' | 'POST') {
    const params = { id_token_hint: hint, post_logout_redirect_uri: LOGGED_OUT, state: 'csrf' };
    const { res, url } =
      method === 'GET'
        ? await ua.follow(client.buildEndSessionUrl(web, params).href)
        : await ua.submit(`${gh.issuer}/logout`, params);
    const html = await res.text();
    const confirmationPage = /<form/.test(html) && readButtons(html)[0]?.value === 'yes';
    return { status: res.status, url, confirmationPage, html };
  }

  for (const method of ['GET', 'POST'] as const) {
    describe(`by ${method}`, () => {
      it("the attacker's own ID token (another user) gets the confirmation page", async () => {
        const victim = await codeFlow(web, WEB.redirect_uris[0]);
        const attacker = await authorize(web, WEB.redirect_uris[0], {}, { user: TEST_USERS.bob });
        const attackerTokens = await client.authorizationCodeGrant(web, attacker.callback, {
          pkceCodeVerifier: attacker.verifier,
          expectedState: attacker.state,
          expectedNonce: attacker.nonce,
        });
        const result = await logoutWith(victim.ua, attackerTokens.id_token!, method);
        expect(result).toMatchObject({ status: 200, confirmationPage: true });
        expect(await stillSignedIn(victim.ua)).toBe(true);
      });

      it("the same user's ID token from another browser gets the confirmation page", async () => {
        const victim = await codeFlow(web, WEB.redirect_uris[0]);
        const elsewhere = await codeFlow(web, WEB.redirect_uris[0]);
        const result = await logoutWith(victim.ua, elsewhere.tokens.id_token!, method);
        expect(result).toMatchObject({ status: 200, confirmationPage: true });
        expect(await stillSignedIn(victim.ua)).toBe(true);
      });

      it("an ID token of the browser's earlier session gets the confirmation page", async () => {
        const first = await codeFlow(web, WEB.redirect_uris[0]);
        await first.ua.follow(client.buildEndSessionUrl(web, { id_token_hint: first.tokens.id_token! }).href);
        expect(await stillSignedIn(first.ua)).toBe(false);
        await codeFlow(web, WEB.redirect_uris[0], {}, { ua: first.ua });
        const result = await logoutWith(first.ua, first.tokens.id_token!, method);
        expect(result).toMatchObject({ status: 200, confirmationPage: true });
        expect(await stillSignedIn(first.ua)).toBe(true);
      });

      it("a hint whose payload was changed to the victim's sid, or that is unsigned, is refused", async () => {
        const victim = await codeFlow(web, WEB.redirect_uris[0]);
        const attacker = await codeFlow(web, WEB.redirect_uris[0]);
        const [header, , signature] = attacker.tokens.id_token!.split('.');
        const victimPayload = victim.tokens.id_token!.split('.')[1]!;
        const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${victimPayload}.`;
        for (const hint of [`${header}.${victimPayload}.${signature}`, unsigned]) {
          const result = await logoutWith(victim.ua, hint, method);
          expect(result).toMatchObject({ status: 400, confirmationPage: false });
        }
        expect(await stillSignedIn(victim.ua)).toBe(true);
      });
    });
  }
});
