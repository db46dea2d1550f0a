import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { obtainCode } from '../support/flows.js';
import { discover } from '../support/rp-client.js';
import { authorizationError, authorizeUrl, pushRequest } from '../support/pushed-requests.js';

/**
 * A client registered with `"gatehouse_profile": "fapi2"` is held to the FAPI 2.0 Security
 * Profile: PAR, PKCE S256, private_key_jwt (ES256/PS256), DPoP-bound tokens, `iss` in the
 * authorization response, codes of at most 60 s, response_mode `query` only. End to end through
 * openid-client v6, and each rule broken on purpose.
 */
interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const FAPI = {
  client_id: 'fapi-app',
  redirect_uris: ['https://fapi.example.com/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  scope: 'openid email offline_access',
  gatehouse_profile: 'fapi2',
} as const;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('FAPI 2.0 clients (gatehouse_profile "fapi2")', () => {
  let gh: RunningGatehouse;
  let clientKey: KeyPair;
  let rsaKey: KeyPair;
  let dpopKey: KeyPair;
  let config: client.Configuration;

  beforeAll(async () => {
    clientKey = await generateKeyPair('ES256');
    rsaKey = await generateKeyPair('RS256');
    dpopKey = await generateKeyPair('ES256');
    gh = await startTestGatehouse({
      overrides: {
        // Longer than FAPI allows: the FAPI client's codes are still capped at 60 s.
        ttl: { authorizationCode: 600 },
        clients: [
          ...Object.values(TEST_CLIENTS),
          {
            ...FAPI,
            jwks: {
              keys: [
                { ...(await exportJWK(clientKey.publicKey)), kid: 'ec', alg: 'ES256' },
                { ...(await exportJWK(rsaKey.publicKey)), kid: 'rsa', alg: 'RS256' },
              ],
            },
          },
        ],
      },
    });
    config = await discover(gh.issuer, FAPI, client.PrivateKeyJwt({ key: clientKey.privateKey, kid: 'ec' }));
  });
  afterAll(() => gh?.stop());

  /** A client assertion for /par or /token, signed by `key` (default: the registered ES256 key). */
  async function assertion(key: KeyPair = clientKey, alg = 'ES256', aud: string = gh.issuer) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg, kid: alg === 'ES256' ? 'ec' : 'rsa' })
      .setIssuer(FAPI.client_id)
      .setSubject(FAPI.client_id)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key.privateKey);
  }

  /** The parameters of a compliant pushed request, with `extra` merged over them. */
  async function pushed(extra: Record<string, string> = {}, auth?: Record<string, string>) {
    const verifier = client.randomPKCECodeVerifier();
    return pushRequest(gh.issuer, {
      client_id: FAPI.client_id,
      response_type: 'code',
      redirect_uri: FAPI.redirect_uris[0],
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(auth ?? { client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion() }),
      ...extra,
    });
  }

  it('signs in end to end with PAR, private_key_jwt, DPoP and PKCE (openid-client)', async () => {
    const dpop = client.getDPoPHandle(config, dpopKey);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: FAPI.redirect_uris[0],
        scope: 'openid email',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      },
      { DPoP: dpop },
    );
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP: dpop },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    // FAPI 2.0 §5.4: PS256, ES256 or EdDSA, never RS256.
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    const info = await client.fetchUserInfo(config, tokens.access_token, TEST_USERS.alice.claims.sub, {
      DPoP: dpop,
    });
    expect(info.email).toBe(TEST_USERS.alice.claims.email);
    // The bound token is no Bearer token.
    const asBearer = await fetch(`${gh.issuer}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(asBearer.status).toBe(401);
  });

  /** A code for the FAPI client, through PAR and the sign-in pages. */
  async function fapiCode(): Promise<{ code: string; verifier: string; callback: URL }> {
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: FAPI.redirect_uris[0],
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    return { code: callback.searchParams.get('code')!, verifier, callback };
  }

  it('issues authorization codes of at most 60 seconds (others keep ttl.authorizationCode)', async () => {
    const { code } = await fapiCode();
    const stored = await gh.provider.AuthorizationCode.find(code);
    expect(stored!.exp! - stored!.iat!).toBeLessThanOrEqual(60);
    const other = await gh.provider.AuthorizationCode.find((await obtainCode(gh.issuer)).code);
    expect(other!.exp! - other!.iat!).toBe(600);
  });

  it('refuses to redeem a code without a DPoP proof (and redeems it with one)', async () => {
    const { code, verifier, callback } = await fapiCode();
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: FAPI.redirect_uris[0],
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(),
      }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_grant',
    });
    // Refused for want of the proof alone: the same code with one is redeemed.
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier },
      undefined,
      {
        DPoP: client.getDPoPHandle(config, dpopKey),
      },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
  });

  it('refuses an authorization request that was not pushed', async () => {
    const res = await fetch(
      authorizeUrl(gh.issuer, {
        client_id: FAPI.client_id,
        response_type: 'code',
        redirect_uri: FAPI.redirect_uris[0],
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }),
      { redirect: 'manual' },
    );
    expect(await authorizationError(res)).toMatchObject({
      error: 'invalid_request',
      description: expect.stringMatching(/Pushed Authorization Request must be used/),
    });
  });

  it('refuses a pushed request without PKCE', async () => {
    const res = await pushed({ code_challenge: '', code_challenge_method: '' });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(String(res.body.error_description)).toMatch(/PKCE/);
  });

  it.each(['fragment', 'form_post'])('refuses response_mode=%s', async (mode) => {
    const res = await pushed({ response_mode: mode });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('accepts a compliant pushed request', async () => {
    const res = await pushed();
    expect(res.status).toBe(201);
  });

  it.each([
    ['an RS256 client assertion (only ES256 or PS256)', () => assertion(rsaKey, 'RS256')],
    [
      'a client assertion for the token endpoint rather than the issuer',
      () => assertion(clientKey, 'ES256', `${gh.issuer}/token`),
    ],
  ])('refuses %s', async (_what, make) => {
    const res = await pushed({}, { client_assertion_type: ASSERTION_TYPE, client_assertion: await make() });
    expect(res).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});
