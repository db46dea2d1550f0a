import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';
import { discover } from '../support/rp-client.js';
import { authorizationError, authorizeUrl, pushRequest } from '../support/pushed-requests.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: authorization request parameters that arrive signed (RFC 9101 request
 * objects) or by reference (RFC 9126 request_uri). Only a request object signed by a key the
 * client registered, for this issuer, unexpired and not seen before, may speak for the client;
 * only a request_uri issued by /par to that very client, once, may stand for a request; and no
 * request_uri makes the server fetch anything.
 */
const WEB = TEST_CLIENTS.web;
const POST = TEST_CLIENTS.post;

interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const JAR = {
  client_id: 'jar-app',
  client_secret: 'jar-app-secret-0123456789',
  redirect_uris: ['https://jar.example.com/cb'],
  grant_types: ['authorization_code'],
} as const;
const OTHER = {
  client_id: 'jar-other',
  client_secret: 'jar-other-secret-0123456789',
  redirect_uris: ['https://other.example.com/cb'],
  grant_types: ['authorization_code'],
} as const;
const SIGNED_ONLY = {
  client_id: 'jar-signed-only',
  client_secret: 'jar-signed-only-secret-0123456789',
  redirect_uris: ['https://signed.example.com/cb'],
  grant_types: ['authorization_code'],
  require_signed_request_object: true,
} as const;

describe('signed request objects and request_uri', () => {
  let gh: RunningGatehouse;
  let jarKey: KeyPair;
  let otherKey: KeyPair;
  let signedOnlyKey: KeyPair;
  let fetched: string[];
  let elsewhere: Server;
  let elsewhereUrl: string;

  const publicJwks = async (key: KeyPair) => ({
    keys: [{ ...(await exportJWK(key.publicKey)), alg: 'ES256' }],
  });

  beforeAll(async () => {
    jarKey = await generateKeyPair('ES256');
    otherKey = await generateKeyPair('ES256');
    signedOnlyKey = await generateKeyPair('ES256');
    // A server that records every request: a request_uri pointing at it must never be fetched.
    fetched = [];
    elsewhere = createServer((req, res) => {
      fetched.push(req.url ?? '');
      res.end('eyJhbGciOiJub25lIn0.e30.');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/request.jwt`;
    gh = await startTestGatehouse({
      overrides: {
        clients: [
          ...Object.values(TEST_CLIENTS),
          { ...JAR, jwks: await publicJwks(jarKey) },
          { ...OTHER, jwks: await publicJwks(otherKey) },
          { ...SIGNED_ONLY, jwks: await publicJwks(signedOnlyKey) },
        ],
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await new Promise((resolve) => elsewhere?.close(resolve));
  });

  const now = () => Math.floor(Date.now() / 1000);

  /** The authorization parameters of a request by `jar-app` (or `clientId`). */
  const params = (clientId: string = JAR.client_id, redirectUri: string = JAR.redirect_uris[0]) => ({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'st',
  });

  /** A request object for `jar-app`, signed with `key`; `claims` override or (undefined) remove claims. */
  async function requestObject(
    key: KeyPair = jarKey,
    claims: Record<string, unknown> = {},
    alg = 'ES256',
  ): Promise<string> {
    const payload: JWTPayload = {
      ...params(),
      iss: JAR.client_id,
      aud: gh.issuer,
      iat: now(),
      nbf: now(),
      exp: now() + 60,
      jti: randomUUID(),
      ...claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg, typ: 'oauth-authz-req+jwt' }).sign(key.privateKey);
  }

  /** GET /authorize with `query`, not following redirects. */
  const authorize = (query: Record<string, string>) =>
    fetch(authorizeUrl(gh.issuer, query), { redirect: 'manual' });

  /** Whether /authorize accepted the request: it sends the browser to sign in. */
  async function expectAccepted(res: Response) {
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!, gh.issuer).pathname).toMatch(/^\/interaction\//);
  }

  async function expectRefused(res: Response, error: string, description?: RegExp) {
    const refused = await authorizationError(res);
    expect(refused.error).toBe(error);
    if (description) expect(refused.description).toMatch(description);
    // Never by sending the browser on to sign in.
    expect(res.headers.get('location') ?? '').not.toMatch(/\/interaction\//);
  }

  it('is advertised in discovery: asymmetric algorithms only, no request_uri fetching', async () => {
    const metadata = (await discover(gh.issuer, WEB)).serverMetadata();
    expect(metadata.request_parameter_supported).toBe(true);
    expect(metadata.request_uri_parameter_supported).toBe(false);
    expect(metadata.request_object_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'PS256']),
    );
    expect(metadata.request_object_signing_alg_values_supported).not.toContain('none');
    expect(metadata.request_object_signing_alg_values_supported).not.toContain('HS256');
  });

  it('runs the code flow with a request object from openid-client (buildAuthorizationUrlWithJAR)', async () => {
    const config = await discover(gh.issuer, JAR, client.ClientSecretBasic(JAR.client_secret));
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithJAR(
      config,
      {
        redirect_uri: JAR.redirect_uris[0],
        scope: 'openid email',
        state: 'jar-state',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      },
      jarKey.privateKey,
    );
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: 'jar-state',
    });
    expect(tokens.claims()?.sub).toBe(TEST_USERS.alice.claims.sub);
  });

  it('refuses an unsigned request object (alg none)', async () => {
    const unsigned = new UnsecuredJWT({ ...params(), jti: randomUUID() })
      .setIssuer(JAR.client_id)
      .setAudience(gh.issuer)
      .setIssuedAt()
      .setExpirationTime('1m')
      .encode();
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: unsigned }),
      'invalid_request_object',
    );
  });

  it('refuses a request object signed with a key nobody registered', async () => {
    const stranger = await generateKeyPair('ES256');
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: await requestObject(stranger) }),
      'invalid_request_object',
    );
  });

  it("refuses a request object signed with another client's key", async () => {
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: await requestObject(otherKey) }),
      'invalid_request_object',
    );
  });

  it("refuses another client's genuine request object presented as this client", async () => {
    const others = await requestObject(otherKey, {
      ...params(OTHER.client_id, OTHER.redirect_uris[0]),
      iss: OTHER.client_id,
    });
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: others }),
      'invalid_request_object',
    );
  });

  it('refuses a request object signed with the client secret (HS256)', async () => {
    const secret = new TextEncoder().encode(JAR.client_secret);
    const payload = { ...params(), jti: randomUUID() };
    const hs256 = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(JAR.client_id)
      .setAudience(gh.issuer)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(secret);
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: hs256 }),
      'invalid_request_object',
    );
  });

  it.each([
    ['expired', { iat: now() - 600, nbf: now() - 600, exp: now() - 300 }, /claims are invalid/],
    ['without exp', { exp: undefined }, /missing the 'exp' claim/],
    ['valid for more than an hour', { exp: now() + 7200 }, /'exp' claim is too far in the future/],
    ['for another audience', { aud: 'https://other-issuer.example.com' }, /claims are invalid/],
    ['issued by another client', { iss: OTHER.client_id }, /claims are invalid/],
    ['without iss', { iss: undefined }, /claims are invalid/],
    ['naming another client_id inside', { client_id: OTHER.client_id }, /client_id/],
    ['nesting a request_uri', { request_uri: 'urn:ietf:params:oauth:request_uri:nested' }, /request_uri/],
  ])('refuses a request object %s', async (_what, claims, description) => {
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: await requestObject(jarKey, claims) }),
      'invalid_request_object',
      description,
    );
  });

  it('accepts a request object once: the same jti again is refused', async () => {
    const once = await requestObject();
    await expectAccepted(await authorize({ client_id: JAR.client_id, request: once }));
    await expectRefused(
      await authorize({ client_id: JAR.client_id, request: once }),
      'invalid_request_object',
    );
  });

  it('never fetches a request_uri that /par did not issue (request_uri_not_supported)', async () => {
    for (const requestUri of [elsewhereUrl, 'https://attacker.example/request.jwt', 'urn:example:anything']) {
      await expectRefused(
        await authorize({ client_id: JAR.client_id, request_uri: requestUri }),
        'request_uri_not_supported',
      );
    }
    const pushed = await pushRequest(
      gh.issuer,
      { ...params(), request_uri: elsewhereUrl },
      basicAuth(JAR.client_id, JAR.client_secret),
    );
    expect(pushed.status).toBe(400);
    expect(fetched).toEqual([]);
  });

  it('refuses both request and request_uri together', async () => {
    const pushed = await pushRequest(gh.issuer, params(), basicAuth(JAR.client_id, JAR.client_secret));
    const res = await authorize({
      client_id: JAR.client_id,
      request: await requestObject(),
      request_uri: String(pushed.body.request_uri),
    });
    await expectRefused(res, 'invalid_request');
  });

  describe('at /par', () => {
    const pushAsJar = (form: Record<string, string>) =>
      pushRequest(gh.issuer, form, basicAuth(JAR.client_id, JAR.client_secret));

    it('accepts a signed request object once, and the request_uri it returns', async () => {
      const signed = await requestObject();
      const pushed = await pushAsJar({ client_id: JAR.client_id, request: signed });
      expect(pushed.status).toBe(201);
      await expectAccepted(
        await authorize({ client_id: JAR.client_id, request_uri: String(pushed.body.request_uri) }),
      );
      const replay = await pushAsJar({ client_id: JAR.client_id, request: signed });
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_request_object' } });
    });

    it.each([
      [
        'unsigned',
        async () => new UnsecuredJWT({ ...params() }).setIssuer(JAR.client_id).setAudience('x').encode(),
      ],
      ['signed with a key nobody registered', async () => requestObject(await generateKeyPair('ES256'))],
      ["signed with another client's key", async () => requestObject(otherKey)],
      [
        'expired',
        async () => requestObject(jarKey, { iat: now() - 600, nbf: now() - 600, exp: now() - 300 }),
      ],
    ])('refuses a request object %s', async (_what, make) => {
      const res = await pushAsJar({ client_id: JAR.client_id, request: await make() });
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request_object' } });
    });

    it("refuses another client's request object pushed by this client", async () => {
      const others = await requestObject(otherKey, {
        ...params(OTHER.client_id, OTHER.redirect_uris[0]),
        iss: OTHER.client_id,
      });
      const res = await pushAsJar({ request: others });
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request_object' } });
    });
  });

  describe('a request_uri from /par', () => {
    it('is refused when another client presents it', async () => {
      const pushed = await pushRequest(
        gh.issuer,
        params(WEB.client_id, WEB.redirect_uris[0]),
        basicAuth(WEB.client_id, WEB.client_secret),
      );
      expect(pushed.status).toBe(201);
      const requestUri = String(pushed.body.request_uri);
      await expectRefused(
        await authorize({ client_id: POST.client_id, request_uri: requestUri }),
        'invalid_request_object',
      );
      await expectRefused(
        await authorize({ client_id: JAR.client_id, request_uri: requestUri }),
        'invalid_request_object',
      );
      // The client it was issued to can still use it.
      await expectAccepted(await authorize({ client_id: WEB.client_id, request_uri: requestUri }));
    });

    it('is refused the second time it is used', async () => {
      const pushed = await pushRequest(
        gh.issuer,
        params(WEB.client_id, WEB.redirect_uris[0]),
        basicAuth(WEB.client_id, WEB.client_secret),
      );
      const url = authorizeUrl(gh.issuer, {
        client_id: WEB.client_id,
        request_uri: String(pushed.body.request_uri),
      });
      const callback = await signIn(new UserAgent(gh.issuer), url, TEST_USERS.alice);
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
      await expectRefused(await fetch(url, { redirect: 'manual' }), 'invalid_request_uri');
    });
  });

  describe('a client with require_signed_request_object', () => {
    it('is refused without a request object', async () => {
      await expectRefused(
        await authorize(params(SIGNED_ONLY.client_id, SIGNED_ONLY.redirect_uris[0])),
        'invalid_request',
      );
    });

    it('is accepted with one', async () => {
      const signed = await requestObject(signedOnlyKey, {
        ...params(SIGNED_ONLY.client_id, SIGNED_ONLY.redirect_uris[0]),
        iss: SIGNED_ONLY.client_id,
      });
      await expectAccepted(await authorize({ client_id: SIGNED_ONLY.client_id, request: signed }));
    });
  });
});

describe('request object replay across instances sharing Redis', () => {
  const ISSUER = 'http://gatehouse.test';
  let redis: RedisServer;
  let instances: RunningGatehouse[];
  let key: KeyPair;
  beforeAll(async () => {
    key = await generateKeyPair('ES256');
    redis = await startRedisServer();
    const clients = [{ ...JAR, jwks: { keys: [{ ...(await exportJWK(key.publicKey)), alg: 'ES256' }] } }];
    // One issuer for both, as behind a load balancer: a request object's aud is valid at either.
    instances = [
      await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER }, overrides: { clients } }),
      await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER }, overrides: { clients } }),
    ];
  });
  afterAll(async () => {
    for (const gh of instances ?? []) await gh.stop();
    await redis?.destroy();
  });

  it('accepts a request object on one instance and refuses it on the other', async () => {
    const now = Math.floor(Date.now() / 1000);
    const request = await new SignJWT({
      response_type: 'code',
      client_id: JAR.client_id,
      redirect_uri: JAR.redirect_uris[0],
      scope: 'openid',
    })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(JAR.client_id)
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(key.privateKey);
    const [a, b] = instances as [RunningGatehouse, RunningGatehouse];
    const first = await fetch(authorizeUrl(a.url, { client_id: JAR.client_id, request }), {
      redirect: 'manual',
    });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(/\/interaction\//);
    const replay = await fetch(authorizeUrl(b.url, { client_id: JAR.client_id, request }), {
      redirect: 'manual',
    });
    expect(await authorizationError(replay)).toMatchObject({
      error: 'invalid_request_object',
      description: expect.stringMatching(/already used/),
    });
  });
});
