import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { discover, recordRequests, responseParams } from '../support/rp-client.js';

const HYBRID = TEST_CLIENTS.hybrid;
const WEB = TEST_CLIENTS.web;
const CALLBACK = HYBRID.redirect_uris[0];
/** The left half of the SHA-256 of a value, as c_hash is made (OIDC Core §3.3.2.11, REQUIRED here). */
const halfHash = (value: string) =>
  createHash('sha256').update(value).digest().subarray(0, 16).toString('base64url');

describe('GET /authorize with the hybrid and implicit response types (hybrid-app)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  const hybridClient = (execute: ((config: client.Configuration) => void)[]) =>
    discover(gh.issuer, HYBRID, client.ClientSecretBasic(HYBRID.client_secret), execute);

  /** Where a session-less browser lands for an authorization request (refusals need no sign-in). */
  async function refusal(clientId: string, redirectUri: string, params: Record<string, string>) {
    const url = new URL(`${gh.issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid',
      nonce: 'n',
      state: 'refused',
      ...params,
    }).toString();
    const at = new URL((await new UserAgent(gh.issuer).follow(url.href)).url);
    expect(`${at.origin}${at.pathname}`).toBe(redirectUri);
    return at;
  }

  it('advertises code, id_token and code id_token, and nothing with token', async () => {
    const metadata = (await hybridClient([])).serverMetadata();
    expect([...metadata.response_types_supported!].sort()).toEqual(['code', 'code id_token', 'id_token']);
  });

  describe('response_type=code id_token', () => {
    it('answers in the fragment with code, id_token and state; openid-client validates and redeems', async () => {
      const config = await hybridClient([client.useCodeIdTokenResponseType]);
      const requests = recordRequests(config);
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid email',
        nonce,
        state,
      });
      expect(url.searchParams.get('response_type')).toBe('code id_token');
      const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
      expect(callback.search).toBe('');
      const params = responseParams(callback);
      // The ID token's iss claim names the issuer here; oidc-provider (and openid-client, which
      // checks it) leave the iss parameter to responses without an ID token.
      expect([...params.keys()].sort()).toEqual(['code', 'id_token', 'state']);
      expect(params.get('state')).toBe(state);

      const frontChannel = decodeJwt(params.get('id_token')!);
      expect(frontChannel).toMatchObject({
        iss: gh.issuer,
        aud: HYBRID.client_id,
        sub: 'alice-0001',
        nonce,
        c_hash: halfHash(params.get('code')!),
      });

      // openid-client checks the front-channel ID token (signature against /jwks, c_hash, nonce)
      // before it redeems the code.
      const tokens = await client.authorizationCodeGrant(config, callback, {
        expectedNonce: nonce,
        expectedState: state,
      });
      expect(requests.map((r) => r.url)).toContain(`${gh.issuer}/jwks`);
      expect(tokens.claims()).toMatchObject({ sub: 'alice-0001', nonce });
      expect(await client.fetchUserInfo(config, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        email: 'alice@example.com',
        email_verified: true,
      });
    });

    it('refuses response_mode=query (OAuth 2.0 Multiple Response Types §5) with invalid_request', async () => {
      const at = await refusal(HYBRID.client_id, CALLBACK, {
        response_type: 'code id_token',
        response_mode: 'query',
      });
      expect(responseParams(at).get('error')).toBe('invalid_request');
      expect(responseParams(at).get('state')).toBe('refused');
    });
  });

  describe('response_type=id_token', () => {
    it('answers with an ID token alone, which carries the scope claims (OIDC Core §5.4)', async () => {
      const config = await hybridClient([client.useIdTokenResponseType]);
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid email',
        nonce,
        state,
      });
      const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
      expect(responseParams(callback).has('code')).toBe(false);
      expect(responseParams(callback).has('access_token')).toBe(false);
      const claims = await client.implicitAuthentication(config, callback, nonce, { expectedState: state });
      expect(claims).toMatchObject({
        iss: gh.issuer,
        aud: HYBRID.client_id,
        sub: 'alice-0001',
        nonce,
        email: 'alice@example.com',
        email_verified: true,
      });
    });
  });

  describe('response types that would put an access token in the browser', () => {
    it.each(['token', 'code token', 'id_token token', 'code id_token token'])(
      'refuses response_type=%s with unsupported_response_type, in the fragment, with state and iss',
      async (responseType) => {
        const at = await refusal(HYBRID.client_id, CALLBACK, { response_type: responseType });
        expect(at.search).toBe('');
        expect(Object.fromEntries(responseParams(at))).toEqual({
          error: 'unsupported_response_type',
          error_description: expect.any(String),
          state: 'refused',
          iss: gh.issuer,
        });
      },
    );
  });

  describe('a client not registered for the response type (web-app)', () => {
    it.each(['code id_token', 'id_token'])(
      'refuses response_type=%s with unauthorized_client (RFC 6749 §4.1.2.1)',
      async (responseType) => {
        const at = await refusal(WEB.client_id, WEB.redirect_uris[0], { response_type: responseType });
        expect(Object.fromEntries(responseParams(at))).toEqual({
          error: 'unauthorized_client',
          error_description: 'requested response_type is not allowed for this client',
          state: 'refused',
          iss: gh.issuer,
        });
      },
    );
  });
});
