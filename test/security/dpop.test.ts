import { createHash, randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { authorize, discover } from '../support/rp-client.js';
import { approveDevice, basicAuth } from '../support/flows.js';
import {
  ACCESS_TOKEN_TYPE,
  TOKEN_EXCHANGE,
  postAsClient,
  postAwsJson,
  registerAwsClient,
} from '../support/grant-requests.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: a DPoP-bound token (RFC 9449) in the hands of someone without its key, or with
 * an old or misdirected proof. The client is the public `spa`, whose refresh token is bound too.
 */
const SPA = TEST_CLIENTS.spa;
const SERVICE = TEST_CLIENTS.service;

interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** A DPoP proof JWT (RFC 9449 §4.2), built by hand so each claim can be got wrong on purpose. */
async function proof(
  key: KeyPair,
  claims: { htm: string; htu: string; accessToken?: string; jti?: string; iat?: number },
) {
  const jwk = await exportJWK(key.publicKey);
  return new SignJWT({
    htm: claims.htm,
    htu: claims.htu,
    jti: claims.jti ?? randomUUID(),
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    ...(claims.accessToken
      ? { ath: createHash('sha256').update(claims.accessToken).digest('base64url') }
      : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(key.privateKey);
}

describe('DPoP-bound tokens (RFC 9449)', () => {
  let gh: RunningGatehouse;
  let config: client.Configuration;
  let key: KeyPair;
  let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  let userinfo: string;

  beforeAll(async () => {
    gh = await startTestGatehouse();
    userinfo = `${gh.issuer}/userinfo`;
    config = await discover(gh.issuer, SPA, client.None());
    key = await generateKeyPair('ES256');
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: SPA.redirect_uris[0],
      scope: 'openid email offline_access',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      undefined,
      { DPoP: client.getDPoPHandle(config, key) },
    );
  });
  afterAll(() => gh?.stop());

  const callUserinfo = (headers: Record<string, string>) => fetch(userinfo, { headers });

  it('is advertised in discovery, and a token requested with a proof is DPoP-bound', () => {
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256']),
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
  });

  it('works at /userinfo with a fresh proof by its key (openid-client)', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, TEST_USERS.alice.claims.sub, {
      DPoP: client.getDPoPHandle(config, key),
    });
    expect(info.email).toBe(TEST_USERS.alice.claims.email);
  });

  it('is refused when presented as a Bearer token (downgrade)', async () => {
    const res = await callUserinfo({ authorization: `Bearer ${tokens.access_token}` });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('is refused with the DPoP scheme but no proof', async () => {
    const res = await callUserinfo({ authorization: `DPoP ${tokens.access_token}` });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('is refused with a valid proof by another key', async () => {
    const other = await generateKeyPair('ES256');
    const res = await callUserinfo({
      authorization: `DPoP ${tokens.access_token}`,
      dpop: await proof(other, { htm: 'GET', htu: userinfo, accessToken: tokens.access_token }),
    });
    expect(res.status).toBe(401);
  });

  it('accepts a proof once: the same proof again is refused', async () => {
    const once = await proof(key, { htm: 'GET', htu: userinfo, accessToken: tokens.access_token });
    const headers = { authorization: `DPoP ${tokens.access_token}`, dpop: once };
    expect((await callUserinfo(headers)).status).toBe(200);
    const replay = await callUserinfo(headers);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('accepts one of many copies of a proof sent at once', async () => {
    const once = await proof(key, { htm: 'GET', htu: userinfo, accessToken: tokens.access_token });
    const headers = { authorization: `DPoP ${tokens.access_token}`, dpop: once };
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () => callUserinfo(headers).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(7);
  });

  it.each([
    ['another endpoint (htu)', { htm: 'GET', htu: `${'http://localhost:1'}/userinfo` }],
    ['the token endpoint (htu)', { htm: 'GET', htu: 'TOKEN' }],
    ['another method (htm)', { htm: 'POST', htu: 'USERINFO' }],
    ['a stale proof (iat an hour ago)', { htm: 'GET', htu: 'USERINFO', iat: -3600 }],
  ])('refuses a proof made for %s', async (_what, claims) => {
    const htu =
      claims.htu === 'USERINFO' ? userinfo : claims.htu === 'TOKEN' ? `${gh.issuer}/token` : claims.htu;
    const iat = 'iat' in claims ? Math.floor(Date.now() / 1000) + claims.iat : undefined;
    const res = await callUserinfo({
      authorization: `DPoP ${tokens.access_token}`,
      dpop: await proof(key, { htm: claims.htm, htu, iat, accessToken: tokens.access_token }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof');
  });

  it('refuses a proof whose ath names another access token', async () => {
    const res = await callUserinfo({
      authorization: `DPoP ${tokens.access_token}`,
      dpop: await proof(key, { htm: 'GET', htu: userinfo, accessToken: 'some-other-token' }),
    });
    expect(res.status).toBe(401);
  });

  it('shows at /introspect as token_type DPoP with cnf.jkt, the thumbprint of its key', async () => {
    const res = await fetch(`${gh.issuer}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(SERVICE.client_id, SERVICE.client_secret),
      },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      active: true,
      client_id: SPA.client_id,
      token_type: 'DPoP',
      cnf: { jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) },
    });
  });

  describe("the public client's refresh token", () => {
    const refreshWith = async (dpop?: string) => {
      const res = await fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop } : {}) },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token!,
          client_id: SPA.client_id,
        }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };

    it('is refused without a proof, or with a proof by another key', async () => {
      expect(tokens.refresh_token).toEqual(expect.any(String));
      expect(await refreshWith()).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      const other = await generateKeyPair('ES256');
      const stolen = await refreshWith(await proof(other, { htm: 'POST', htu: `${gh.issuer}/token` }));
      expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('works with a proof by its key (openid-client), and the new tokens stay bound', async () => {
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, {
        DPoP: client.getDPoPHandle(config, key),
      });
      expect(refreshed.token_type.toLowerCase()).toBe('dpop');
      const res = await callUserinfo({ authorization: `Bearer ${refreshed.access_token}` });
      expect(res.status).toBe(401);
    });
  });
});

describe('DPoP proof replay across instances sharing Redis', () => {
  const ISSUER = 'http://gatehouse.test';
  let redis: RedisServer;
  let instances: RunningGatehouse[];
  beforeAll(async () => {
    redis = await startRedisServer();
    // One issuer for both, as behind a load balancer: a proof's htu is valid at either.
    instances = [
      await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER } }),
      await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER } }),
    ];
  });
  afterAll(async () => {
    for (const gh of instances ?? []) await gh.stop();
    await redis?.destroy();
  });

  it('accepts exactly one of many copies of a proof at /token, whichever instance they reach', async () => {
    const key = await generateKeyPair('ES256');
    const dpop = await proof(key, { htm: 'POST', htu: `${ISSUER}/token` });
    const service = TEST_CLIENTS.service;
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${instances[i % 2]!.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basicAuth(service.client_id, service.client_secret),
            dpop,
          },
          body: 'grant_type=client_credentials&scope=api%3Aread',
        });
        return { status: res.status, body: (await res.json()) as Record<string, string> };
      }),
    );
    const issued = results.filter((r) => r.status === 200);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.body.token_type).toBe('DPoP');
    for (const refused of results.filter((r) => r.status !== 200)) {
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
  });
});

/** A client that must use DPoP: every access token it gets is bound (RFC 9449 §5.2). */
const BOUND_SERVICE = {
  client_id: 'bound-service',
  client_secret: 'bound-service-secret-0123456789',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  scope: 'api:read',
  dpop_bound_access_tokens: true,
};

describe('dpop_bound_access_tokens: true', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: { clients: [...Object.values(TEST_CLIENTS), BOUND_SERVICE] },
    });
  });
  afterAll(() => gh?.stop());

  const requestToken = async (dpop?: string) => {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(BOUND_SERVICE.client_id, BOUND_SERVICE.client_secret),
        ...(dpop ? { dpop } : {}),
      },
      body: 'grant_type=client_credentials&scope=api%3Aread',
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };

  it('gets no token without a DPoP proof', async () => {
    expect(await requestToken()).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('gets a DPoP-bound token with a proof (openid-client)', async () => {
    const config = await discover(
      gh.issuer,
      BOUND_SERVICE,
      client.ClientSecretBasic(BOUND_SERVICE.client_secret),
    );
    const key = await generateKeyPair('ES256');
    const tokens = await client.clientCredentialsGrant(
      config,
      { scope: 'api:read' },
      { DPoP: client.getDPoPHandle(config, key) },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
  });

  it('other clients may still use Bearer tokens', async () => {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(SERVICE.client_id, SERVICE.client_secret),
      },
      body: 'grant_type=client_credentials&scope=api%3Aread',
    });
    expect(((await res.json()) as { token_type: string }).token_type).toBe('Bearer');
  });

  it('is refused at start-up when not a boolean, naming the key', async () => {
    await expect(
      startTestGatehouse({
        overrides: { clients: [{ ...BOUND_SERVICE, dpop_bound_access_tokens: 'yes' }] },
      }),
    ).rejects.toThrow(/dpop_bound_access_tokens/);
  });
});

describe('the AWS API stays Bearer', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
  });
  afterAll(() => gh?.stop());

  const aws = (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    postAwsJson(gh.issuer, path, body, headers);

  it('CreateToken never binds, even when the request carries a DPoP proof', async () => {
    const registered = await registerAwsClient(gh.issuer, { clientName: 'cli' });
    const credentials = { clientId: registered.client_id, clientSecret: registered.client_secret };
    const start = await aws('/device_authorization', {
      ...credentials,
      startUrl: 'https://d-0000000000.awsapps.com/start',
    });
    await approveDevice(gh.issuer, start.body.verificationUriComplete!);
    const key = await generateKeyPair('ES256');
    const created = await aws(
      '/token',
      {
        ...credentials,
        grantType: 'urn:ietf:params:oauth:grant-type:device_code',
        deviceCode: start.body.deviceCode,
      },
      { dpop: await proof(key, { htm: 'POST', htu: `${gh.issuer}/token` }) },
    );
    expect(created.status).toBe(200);
    expect(created.body.tokenType).toBe('Bearer');
    // Introspected by a resource server: active, a Bearer token, bound to no key.
    const res = await fetch(`${gh.issuer}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(SERVICE.client_id, SERVICE.client_secret),
      },
      body: new URLSearchParams({ token: created.body.accessToken! }),
    });
    const introspected = (await res.json()) as Record<string, unknown>;
    expect(introspected).toMatchObject({ active: true, token_type: 'Bearer' });
    expect(introspected).not.toHaveProperty('cnf');
  });
});

describe('token exchange of a DPoP-bound access token', () => {
  const EXCHANGER = {
    client_id: 'exchanger',
    client_secret: 'exchanger-secret-0123456789',
    grant_types: [TOKEN_EXCHANGE],
    redirect_uris: [],
    response_types: [],
    gatehouse_may_exchange_from: [SPA.client_id],
  };
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { clients: [...Object.values(TEST_CLIENTS), EXCHANGER] } });
  });
  afterAll(() => gh?.stop());

  it('is refused: a Bearer token from it would undo the binding', async () => {
    const config = await discover(gh.issuer, SPA, client.None());
    const auth = await authorize(config, SPA.redirect_uris[0], { scope: 'openid email' });
    const tokens = await client.authorizationCodeGrant(
      config,
      auth.callback,
      { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce },
      undefined,
      { DPoP: client.getDPoPHandle(config, await generateKeyPair('ES256')) },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const res = await postAsClient(gh.issuer, '/token', EXCHANGER, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The same user's unbound token from the same client is exchanged: the binding is the reason.
    const again = await authorize(config, SPA.redirect_uris[0], { scope: 'openid email' });
    const unbound = await client.authorizationCodeGrant(config, again.callback, {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
      expectedNonce: again.nonce,
    });
    const exchanged = await postAsClient(gh.issuer, '/token', EXCHANGER, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: unbound.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
    });
    expect(exchanged.status).toBe(200);
  });
});
