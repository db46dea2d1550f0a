import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent } from '../support/browserless.js';
import { codeFlow, discover, responseParams } from '../support/rp-client.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * The `claims` request parameter (OIDC Core §5.5): individual claims asked for the ID token or
 * /userinfo are released only within the scopes the user consented to for the client. A claim
 * beyond them is not released, `essential` or not, and the request still succeeds (§5.5.1).
 */
const WEB = TEST_CLIENTS.web;
const ALICE = TEST_USERS.alice.claims;
const REDIRECT = WEB.redirect_uris[0];

describe.each(['memory', 'redis'])('the claims request parameter (%s store)', (storeKind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let config: client.Configuration;
  beforeAll(async () => {
    // Consented claims live in the grant, in the store.
    redis = storeKind === 'redis' ? await startRedisServer() : undefined;
    gh = await startTestGatehouse(redis ? { env: { REDIS_URL: redis.url } } : {});
    config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const claims = (value: object) => JSON.stringify(value);

  it('is advertised in discovery', () => {
    expect(config.serverMetadata().claims_parameter_supported).toBe(true);
  });

  it('puts a consented scope’s claim in the ID token when asked for it there (essential)', async () => {
    const { tokens } = await codeFlow(config, REDIRECT, {
      scope: 'openid email',
      claims: claims({ id_token: { email: { essential: true } } }),
    });
    expect(tokens.claims()).toMatchObject({ sub: ALICE.sub, email: ALICE.email });
    // Without the parameter the ID token carries no email (it is /userinfo's when an access token is issued).
    const plain = await codeFlow(config, REDIRECT, { scope: 'openid email' });
    expect(plain.tokens.claims()).not.toHaveProperty('email');
  });

  it('releases at /userinfo only the asked claims the consented scopes cover', async () => {
    const { tokens } = await codeFlow(config, REDIRECT, {
      scope: 'openid profile',
      prompt: 'consent',
      claims: claims({ userinfo: { name: null, email: { essential: true } } }),
    });
    const info = await client.fetchUserInfo(config, tokens.access_token, ALICE.sub);
    expect(info).toMatchObject({ sub: ALICE.sub, name: ALICE.name });
    expect(info).not.toHaveProperty('email');
  });

  it('releases nothing beyond the scopes, even an essential claim, and the flow still succeeds', async () => {
    const { tokens } = await codeFlow(config, REDIRECT, {
      scope: 'openid',
      prompt: 'consent',
      claims: claims({
        id_token: { email: { essential: true }, name: null },
        userinfo: { email_verified: { essential: true }, family_name: null },
      }),
    });
    const idToken = tokens.claims()!;
    for (const name of ['email', 'name', 'email_verified', 'family_name']) {
      expect(idToken).not.toHaveProperty(name);
    }
    const info = await client.fetchUserInfo(config, tokens.access_token, ALICE.sub);
    expect(info).toEqual({ sub: ALICE.sub });
  });

  it('needs no consent page for claims of scopes already granted (prompt=none works)', async () => {
    const ua = new UserAgent(gh.issuer);
    await codeFlow(config, REDIRECT, { scope: 'openid email' }, { ua });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      prompt: 'none',
      state: 'silent',
      claims: claims({ id_token: { email: null } }),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const landed = new URL((await ua.follow(url.href)).url);
    expect(responseParams(landed).get('error')).toBeNull();
    const tokens = await client.authorizationCodeGrant(config, landed, {
      pkceCodeVerifier: verifier,
      expectedState: 'silent',
    });
    expect(tokens.claims()).toMatchObject({ email: ALICE.email });
  });

  describe('bad input', () => {
    const authorize = async (value: string) => {
      const url = new URL(`${gh.issuer}/authorize`);
      url.search = new URLSearchParams({
        client_id: WEB.client_id,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 'bad',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        claims: value,
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      return responseParams(res.headers.get('location') ?? 'http://invalid/');
    };

    it.each([
      ['malformed JSON', '{"id_token": {'],
      ['a JSON array', '[]'],
      ['a JSON string', '"email"'],
      ['neither id_token nor userinfo', '{"access_token": {}}'],
      ['id_token not an object', '{"id_token": ["email"]}'],
      ['userinfo not an object', '{"userinfo": "email"}'],
      ['a claim request neither null nor an object', '{"id_token": {"email": "yes"}}'],
    ])('answers %s with invalid_request at the redirect URI', async (_what, value) => {
      const params = await authorize(value);
      expect(params.get('error')).toBe('invalid_request');
      expect(params.get('state')).toBe('bad');
    });

    it('ignores claims it does not know, releasing the known ones asked with them', async () => {
      const { tokens } = await codeFlow(config, REDIRECT, {
        scope: 'openid email',
        claims: claims({ id_token: { unknown_claim: { essential: true }, email: null } }),
      });
      expect(tokens.claims()).not.toHaveProperty('unknown_claim');
      expect(tokens.claims()).toMatchObject({ email: ALICE.email });
    });
  });
});
