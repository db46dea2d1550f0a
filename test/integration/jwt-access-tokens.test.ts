import * as client from 'openid-client';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { RESOURCE, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { authorize, discover } from '../support/rp-client.js';
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, postAsClient, TOKEN_EXCHANGE } from '../support/grant-requests.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * JWT access tokens (RFC 9068) for resource servers configured with `accessTokenFormat: "jwt"`:
 * verifiable by a resource server that never calls Gatehouse, with only /jwks (the README recipe
 * is the `verifyAccessToken` below).
 */
const JWT_RESOURCE = 'https://jwt-api.example.com';
const SERVICE = TEST_CLIENTS.service;
/** A relying party that asks for the JWT resource on behalf of a user. */
const RS_APP = {
  client_id: 'rs-app',
  client_secret: 'rs-app-secret-0123456789',
  redirect_uris: ['https://rs-app.example.com/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid email offline_access api:read',
};
/** May exchange rs-app's tokens (RFC 8693). */
const BROKER = {
  client_id: 'broker',
  client_secret: 'broker-secret-0123456789',
  grant_types: [TOKEN_EXCHANGE],
  redirect_uris: [],
  response_types: [],
  gatehouse_may_exchange_from: ['rs-app'],
};

function startWithJwtResource(env: Record<string, string> = {}) {
  return startTestGatehouse({
    env,
    overrides: {
      clients: [...Object.values(TEST_CLIENTS), RS_APP, BROKER],
      resourceServers: {
        [RESOURCE]: { scope: 'api:read api:write' },
        [JWT_RESOURCE]: { scope: 'api:read', accessTokenFormat: 'jwt', accessTokenTTL: 300 },
      },
    },
  });
}

/** What a resource server does: verify with the issuer's JWKS, for its own audience, typ at+jwt. */
function verifyAccessToken(issuer: string, token: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  return jwtVerify(token, jwks, { issuer, audience: JWT_RESOURCE, typ: 'at+jwt' });
}

describe('JWT access tokens (RFC 9068, resourceServers.<uri>.accessTokenFormat "jwt")', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startWithJwtResource();
  });
  afterAll(() => gh?.stop());

  const serviceConfig = () => discover(gh.issuer, SERVICE, client.ClientSecretBasic(SERVICE.client_secret));

  it('client_credentials with resource: a JWT with typ at+jwt and the RFC 9068 claims, verified with /jwks', async () => {
    const tokens = await client.clientCredentialsGrant(await serviceConfig(), {
      scope: 'api:read',
      resource: JWT_RESOURCE,
    });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const { payload, protectedHeader } = await verifyAccessToken(gh.issuer, tokens.access_token);
    expect(protectedHeader).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: gh.issuer,
      sub: SERVICE.client_id,
      aud: JWT_RESOURCE,
      client_id: SERVICE.client_id,
      scope: 'api:read',
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    expect(payload.exp! - payload.iat!).toBe(300); // the resource server's accessTokenTTL
  });

  it('for a user (code flow with resource): sub is the user, and a refresh gives another JWT', async () => {
    const config = await discover(gh.issuer, RS_APP, client.ClientSecretBasic(RS_APP.client_secret));
    const auth = await authorize(config, RS_APP.redirect_uris[0]!, {
      scope: 'openid api:read offline_access',
      prompt: 'consent',
      resource: JWT_RESOURCE,
    });
    const tokens = await client.authorizationCodeGrant(config, auth.callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    const { payload } = await verifyAccessToken(gh.issuer, tokens.access_token);
    expect(payload).toMatchObject({
      sub: TEST_USERS.alice.claims.sub,
      client_id: RS_APP.client_id,
      scope: 'api:read',
    });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, {
      resource: JWT_RESOURCE,
    });
    expect((await verifyAccessToken(gh.issuer, refreshed.access_token)).payload.jti).not.toBe(payload.jti);
  });

  it('requested with a DPoP proof, carries cnf.jkt (the proof key’s thumbprint)', async () => {
    const config = await serviceConfig();
    const key = await generateKeyPair('ES256');
    const tokens = await client.clientCredentialsGrant(
      config,
      { scope: 'api:read', resource: JWT_RESOURCE },
      { DPoP: client.getDPoPHandle(config, key) },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const { payload } = await verifyAccessToken(gh.issuer, tokens.access_token);
    expect(payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) });
  });

  it('cannot be introspected or revoked (unsupported_token_type): it stays valid until exp', async () => {
    const tokens = await client.clientCredentialsGrant(await serviceConfig(), {
      scope: 'api:read',
      resource: JWT_RESOURCE,
    });
    for (const path of ['/introspect', '/revoke']) {
      const res = await postAsClient(gh.issuer, path, SERVICE, { token: tokens.access_token });
      expect(res).toMatchObject({ status: 400, body: { error: 'unsupported_token_type' } });
    }
    await expect(verifyAccessToken(gh.issuer, tokens.access_token)).resolves.toBeDefined();
  });

  it('leaves other resource servers opaque (the default)', async () => {
    const tokens = await client.clientCredentialsGrant(await serviceConfig(), {
      scope: 'api:read',
      resource: RESOURCE,
    });
    expect(() => decodeProtectedHeader(tokens.access_token)).toThrow();
    const introspected = await postAsClient(gh.issuer, '/introspect', SERVICE, {
      token: tokens.access_token,
    });
    expect(introspected.body).toMatchObject({ active: true, aud: RESOURCE });
  });

  it('is refused as a token-exchange subject_token (never taken for an ID token)', async () => {
    const config = await discover(gh.issuer, RS_APP, client.ClientSecretBasic(RS_APP.client_secret));
    const auth = await authorize(config, RS_APP.redirect_uris[0]!, {
      scope: 'openid api:read',
      resource: JWT_RESOURCE,
    });
    const tokens = await client.authorizationCodeGrant(config, auth.callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    const res = await postAsClient(gh.issuer, '/token', BROKER, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // …while the ID token from the same response is accepted as one (the broker may exchange it).
    const idToken = await postAsClient(gh.issuer, '/token', BROKER, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.id_token!,
      subject_token_type: ID_TOKEN_TYPE,
    });
    expect(idToken.status).toBe(200);
  });

  it('refuses an unknown accessTokenFormat at start-up, naming the key', async () => {
    await expect(
      startTestGatehouse({
        overrides: {
          resourceServers: { [JWT_RESOURCE]: { scope: 'api:read', accessTokenFormat: 'paseto' } },
        },
      }),
    ).rejects.toThrow(/accessTokenFormat/);
  });
});

describe('JWT access tokens with the Redis store', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    gh = await startWithJwtResource({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  it('is issued and verifiable with /jwks alone', async () => {
    const config = await discover(gh.issuer, SERVICE, client.ClientSecretBasic(SERVICE.client_secret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read', resource: JWT_RESOURCE });
    const { payload } = await verifyAccessToken(gh.issuer, tokens.access_token);
    expect(payload.client_id).toBe(SERVICE.client_id);
  });
});
