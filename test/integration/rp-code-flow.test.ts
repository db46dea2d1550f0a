import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { authorize, codeFlow, discover, recordRequests, responseParams } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const POST = TEST_CLIENTS.post;
const SPA = TEST_CLIENTS.spa;

describe('authorization code flow (openid-client as the relying party)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  /** Where the browser lands for an authorization URL, without signing in (a session-less browser). */
  const landing = async (url: URL) => new URL((await new UserAgent(gh.issuer).follow(url.href)).url);

  describe('a confidential client with client_secret_basic (web-app)', () => {
    it('redeems the code with HTTP Basic credentials and gets tokens for alice', async () => {
      const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
      const requests = recordRequests(config);
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0]);

      const tokenRequest = requests.find((r) => r.url === `${gh.issuer}/token`)!;
      // RFC 6749 §2.3.1: id and secret form-urlencoded, then Base64 (so "-" travels as %2D).
      const [scheme, credentials] = tokenRequest.headers.get('authorization')!.split(' ');
      expect(scheme).toBe('Basic');
      const [id, secret] = Buffer.from(credentials!, 'base64').toString().split(':').map(decodeURIComponent);
      expect([id, secret]).toEqual([WEB.client_id, WEB.client_secret]);
      expect(tokenRequest.body.has('client_secret')).toBe(false);
      expect(tokens).toMatchObject({
        token_type: 'bearer',
        expires_in: 3600,
        scope: 'openid email',
        access_token: expect.any(String),
        id_token: expect.any(String),
      });
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.claims()).toMatchObject({ iss: gh.issuer, aud: WEB.client_id, sub: 'alice-0001' });
    });

    it('refuses a wrong client secret with 401 invalid_client and a Basic challenge', async () => {
      const { callback, verifier, state, nonce } = await authorize(
        await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret)),
        WEB.redirect_uris[0],
      );
      const wrong = await discover(gh.issuer, WEB, client.ClientSecretBasic('not-the-secret'));
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
      // RFC 6749 §5.2: 401 with WWW-Authenticate in the scheme the client used.
      await expect(client.authorizationCodeGrant(wrong, callback, checks)).rejects.toMatchObject({
        code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
        status: 401,
        cause: [{ scheme: 'basic', parameters: expect.objectContaining({ error: 'invalid_client' }) }],
      });
    });

    it('answers invalid_grant when the same code is redeemed twice', async () => {
      const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
      const { callback, verifier, state, nonce } = await authorize(config, WEB.redirect_uris[0]);
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
      await client.authorizationCodeGrant(config, callback, checks);
      await expect(client.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({
        error: 'invalid_grant',
        status: 400,
      });
    });
  });

  describe('a confidential client with client_secret_post (post-app)', () => {
    it('redeems the code with the secret in the form body', async () => {
      const config = await discover(gh.issuer, POST, client.ClientSecretPost(POST.client_secret));
      const requests = recordRequests(config);
      const { tokens } = await codeFlow(config, POST.redirect_uris[0], { scope: 'openid' });

      const tokenRequest = requests.find((r) => r.url === `${gh.issuer}/token`)!;
      expect(tokenRequest.headers.get('authorization')).toBeNull();
      expect(tokenRequest.body.get('client_id')).toBe(POST.client_id);
      expect(tokenRequest.body.get('client_secret')).toBe(POST.client_secret);
      expect(tokens.claims()).toMatchObject({ aud: POST.client_id, sub: 'alice-0001' });
    });

    it('may leave PKCE out (pkce.requiredForAllClients is false)', async () => {
      const config = await discover(gh.issuer, POST, client.ClientSecretPost(POST.client_secret));
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: POST.redirect_uris[0],
        scope: 'openid',
        state: 'no-pkce',
        nonce,
      });
      const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
      const tokens = await client.authorizationCodeGrant(config, callback, {
        expectedState: 'no-pkce',
        expectedNonce: nonce,
      });
      expect(tokens.claims()?.sub).toBe('alice-0001');
    });
  });

  describe('a public client with PKCE (spa)', () => {
    it('redeems the code with its S256 code_verifier and no client secret', async () => {
      const config = await discover(gh.issuer, SPA, client.None());
      const requests = recordRequests(config);
      const { tokens } = await codeFlow(config, SPA.redirect_uris[0]);

      const tokenRequest = requests.find((r) => r.url === `${gh.issuer}/token`)!;
      expect(tokenRequest.headers.get('authorization')).toBeNull();
      expect(tokenRequest.body.get('client_id')).toBe(SPA.client_id);
      expect(tokenRequest.body.get('code_verifier')).toEqual(expect.any(String));
      expect(tokens.claims()).toMatchObject({ aud: SPA.client_id, sub: 'alice-0001' });
    });

    it('refuses an authorization request without code_challenge with invalid_request', async () => {
      const config = await discover(gh.issuer, SPA, client.None());
      const at = await landing(
        client.buildAuthorizationUrl(config, {
          redirect_uri: SPA.redirect_uris[0],
          scope: 'openid',
          state: 'no-challenge',
        }),
      );
      expect(`${at.origin}${at.pathname}`).toBe(SPA.redirect_uris[0]);
      expect(Object.fromEntries(at.searchParams)).toEqual({
        error: 'invalid_request',
        error_description: expect.stringMatching(/PKCE/),
        state: 'no-challenge',
        iss: gh.issuer,
      });
    });

    it('refuses code_challenge_method=plain with invalid_request', async () => {
      const config = await discover(gh.issuer, SPA, client.None());
      const at = await landing(
        client.buildAuthorizationUrl(config, {
          redirect_uri: SPA.redirect_uris[0],
          scope: 'openid',
          state: 'plain',
          code_challenge: client.randomPKCECodeVerifier(),
          code_challenge_method: 'plain',
        }),
      );
      expect(`${at.origin}${at.pathname}`).toBe(SPA.redirect_uris[0]);
      expect(responseParams(at).get('error')).toBe('invalid_request');
      expect(responseParams(at).get('state')).toBe('plain');
      expect(responseParams(at).get('iss')).toBe(gh.issuer);
    });

    it('refuses the code with invalid_grant when the code_verifier is wrong or missing', async () => {
      const config = await discover(gh.issuer, SPA, client.None());
      for (const verifier of [client.randomPKCECodeVerifier(), undefined]) {
        const { callback, state, nonce } = await authorize(config, SPA.redirect_uris[0]);
        const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
        await expect(client.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({
          error: 'invalid_grant',
          status: 400,
        });
      }
    });
  });

  describe('the authorization response', () => {
    it('echoes state byte for byte, with iss (RFC 9207)', async () => {
      const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
      expect(config.serverMetadata().authorization_response_iss_parameter_supported).toBe(true);
      const state = 'a+b/c=d~e.f_g-h%20';
      const { callback, verifier, nonce } = await authorize(config, WEB.redirect_uris[0], { state });
      expect(`${callback.origin}${callback.pathname}`).toBe(WEB.redirect_uris[0]);
      expect(callback.searchParams.get('state')).toBe(state);
      expect(callback.searchParams.get('iss')).toBe(gh.issuer);
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
      // openid-client checks state and iss itself before it redeems the code.
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      expect(tokens.access_token).toEqual(expect.any(String));
    });
  });
});
