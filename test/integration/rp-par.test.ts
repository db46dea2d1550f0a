import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';
import { discover } from '../support/rp-client.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { authorizationError, pushRequest } from '../support/pushed-requests.js';

/**
 * Pushed authorization requests (RFC 9126) through openid-client: the client pushes its
 * parameters to /par (authenticated like at /token), and sends the browser to /authorize with
 * only `client_id` and the `request_uri` it got back, which lives in the store and is spent by
 * the authorization response.
 */
const WEB = TEST_CLIENTS.web;
const SPA = TEST_CLIENTS.spa;

/** A confidential client that must push its authorization requests. */
const PAR_ONLY = {
  client_id: 'par-only',
  client_secret: 'par-only-secret-0123456789',
  redirect_uris: ['https://par.example.com/cb'],
  grant_types: ['authorization_code'],
  require_pushed_authorization_requests: true,
} as const;

/** Pushes `params` to `<base>/par` as `web-app` (client_secret_basic), or with `auth` (null: none). */
const push = (
  base: string,
  params: Record<string, string>,
  auth: string | null = basicAuth(WEB.client_id, WEB.client_secret),
) => pushRequest(base, params, auth ?? undefined);

const webParams = () => ({
  response_type: 'code',
  client_id: WEB.client_id,
  redirect_uri: WEB.redirect_uris[0],
  scope: 'openid email',
  state: client.randomState(),
});

describe.each(['memory', 'redis'] as const)('pushed authorization requests (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: kind === 'redis' ? { REDIS_URL: redis!.url } : {},
      overrides: { clients: [...Object.values(TEST_CLIENTS), PAR_ONLY] },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  it('is advertised in discovery at /par, not required for every client by default', async () => {
    const config = await discover(gh.issuer, WEB);
    const metadata = config.serverMetadata();
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${gh.issuer}/par`);
    expect(metadata.require_pushed_authorization_requests).toBeUndefined();
  });

  it('runs the code flow for a confidential client (openid-client buildAuthorizationUrlWithPAR)', async () => {
    const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid email',
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.claims()?.sub).toBe(TEST_USERS.alice.claims.sub);
  });

  it('runs the code flow for a public client (PKCE required at /par too)', async () => {
    const config = await discover(gh.issuer, SPA, client.None());
    const noPkce = await push(
      gh.issuer,
      {
        response_type: 'code',
        client_id: SPA.client_id,
        redirect_uri: SPA.redirect_uris[0],
        scope: 'openid',
      },
      null,
    );
    expect(noPkce).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: SPA.redirect_uris[0],
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('answers 201 with a request_uri that lives at most 60 seconds', async () => {
    const pushed = await push(gh.issuer, webParams());
    expect(pushed.status).toBe(201);
    expect(pushed.body.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:[\w-]+$/);
    expect(pushed.body.expires_in).toBeGreaterThan(0);
    expect(pushed.body.expires_in).toBeLessThanOrEqual(60);
  });

  it('accepts the request_uri once: a second authorization with it is refused', async () => {
    const pushed = await push(gh.issuer, webParams());
    const url = `${gh.issuer}/authorize?${new URLSearchParams({
      client_id: WEB.client_id,
      request_uri: String(pushed.body.request_uri),
    })}`;
    const ua = new UserAgent(gh.issuer);
    const callback = await signIn(ua, url, TEST_USERS.alice);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    // Even from the same signed-in browser, the spent request_uri starts nothing.
    const again = await ua.request(url);
    expect(await authorizationError(again)).toMatchObject({ status: 400, error: 'invalid_request_uri' });
  });

  it('gives a code to only one of two browsers that started with the same request_uri', async () => {
    const pushed = await push(gh.issuer, webParams());
    const url = `${gh.issuer}/authorize?${new URLSearchParams({
      client_id: WEB.client_id,
      request_uri: String(pushed.body.request_uri),
    })}`;
    const [first, second] = [new UserAgent(gh.issuer), new UserAgent(gh.issuer)];
    // Both get as far as the sign-in page before either finishes.
    const pages = await Promise.all([first.follow(url), second.follow(url)]);
    for (const page of pages) expect(page.url).toMatch(/\/interaction\//);
    const callbacks = await Promise.all([
      signIn(first, pages[0].url, TEST_USERS.alice),
      signIn(second, pages[1].url, TEST_USERS.alice),
    ]);
    const outcomes = callbacks.map((cb) =>
      cb.searchParams.get('code') ? 'code' : cb.searchParams.get('error'),
    );
    expect(outcomes.sort()).toEqual(['code', 'invalid_request_uri']);
  });

  it('works through POST /authorize (303 to the GET request)', async () => {
    const pushed = await push(gh.issuer, webParams());
    const callback = await signIn(
      new UserAgent(gh.issuer),
      `${gh.issuer}/authorize?${new URLSearchParams({ client_id: WEB.client_id, request_uri: String(pushed.body.request_uri) })}`,
      TEST_USERS.alice,
      { consent: 'allow', method: 'POST' },
    );
    expect(callback.origin + callback.pathname).toBe(WEB.redirect_uris[0]);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
  });

  it('refuses a request_uri it never issued', async () => {
    const res = await fetch(
      `${gh.issuer}/authorize?${new URLSearchParams({ client_id: WEB.client_id, request_uri: 'urn:ietf:params:oauth:request_uri:made-up' })}`,
      { redirect: 'manual' },
    );
    expect(await authorizationError(res)).toMatchObject({ status: 400, error: 'invalid_request_uri' });
  });

  it('refuses a client without valid credentials at /par (401 invalid_client)', async () => {
    const wrong = await push(gh.issuer, webParams(), basicAuth(WEB.client_id, 'wrong-secret'));
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const none = await push(gh.issuer, webParams(), null);
    expect(none).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses an unregistered redirect_uri at /par', async () => {
    const res = await push(gh.issuer, { ...webParams(), redirect_uri: 'https://attacker.example/cb' });
    // RFC 9126 §2.3: the PAR endpoint answers invalid_request (no invalid_redirect_uri there).
    expect(res).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: expect.stringContaining('redirect_uri') },
    });
  });

  describe('a client with require_pushed_authorization_requests', () => {
    const direct = () =>
      `${gh.issuer}/authorize?${new URLSearchParams({
        client_id: PAR_ONLY.client_id,
        response_type: 'code',
        redirect_uri: PAR_ONLY.redirect_uris[0],
        scope: 'openid',
        state: 'st',
      })}`;

    it('is refused at /authorize without a pushed request (error sent to its redirect_uri)', async () => {
      const res = await fetch(direct(), { redirect: 'manual' });
      expect(res.headers.get('location')).toMatch(/^https:\/\/par\.example\.com\/cb\?/);
      expect(await authorizationError(res)).toMatchObject({ status: 303, error: 'invalid_request' });
    });

    it('signs in with a pushed request', async () => {
      const config = await discover(gh.issuer, PAR_ONLY, client.ClientSecretBasic(PAR_ONLY.client_secret));
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: PAR_ONLY.redirect_uris[0],
        scope: 'openid',
      });
      const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    });
  });
});

describe('test mode: /_test/clients takes the PAR and FAPI client metadata', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { GATEHOUSE_MODE: 'test' } });
  });
  afterAll(() => gh?.stop());

  const createClient = (metadata: Record<string, unknown>) =>
    fetch(`${gh.issuer}/_test/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });

  it('a client created with require_pushed_authorization_requests must push', async () => {
    const res = await createClient({
      redirect_uris: ['https://test-par.example.com/cb'],
      require_pushed_authorization_requests: true,
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { client_id: string; client_secret: string };
    const direct = await fetch(
      `${gh.issuer}/authorize?${new URLSearchParams({
        client_id: created.client_id,
        response_type: 'code',
        redirect_uri: 'https://test-par.example.com/cb',
        scope: 'openid',
      })}`,
      { redirect: 'manual' },
    );
    expect(await authorizationError(direct)).toMatchObject({ error: 'invalid_request' });
    const pushed = await push(
      gh.issuer,
      {
        client_id: created.client_id,
        response_type: 'code',
        redirect_uri: 'https://test-par.example.com/cb',
        scope: 'openid',
      },
      basicAuth(created.client_id, created.client_secret),
    );
    expect(pushed.status).toBe(201);
  });

  it('a FAPI 2.0 client that breaks the profile is refused with invalid_client_metadata', async () => {
    const res = await createClient({
      redirect_uris: ['https://test-fapi.example.com/cb'],
      gatehouse_profile: 'fapi2',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_client_metadata',
      error_description: expect.stringContaining('private_key_jwt'),
    });
  });
});

describe('par.requiredForAllClients', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { par: { requiredForAllClients: true } } });
  });
  afterAll(() => gh?.stop());

  it('is advertised as require_pushed_authorization_requests and refuses plain /authorize', async () => {
    const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    expect(config.serverMetadata().require_pushed_authorization_requests).toBe(true);
    const plain = client.buildAuthorizationUrl(config, {
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid',
    });
    expect(await authorizationError(await fetch(plain, { redirect: 'manual' }))).toMatchObject({
      status: 303,
      error: 'invalid_request',
    });
    const pushed = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid',
    });
    const callback = await signIn(new UserAgent(gh.issuer), pushed.href, TEST_USERS.alice);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
  });
});

describe('pushed authorization requests across instances sharing Redis', () => {
  let redis: RedisServer;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
    // One issuer for both, as behind a load balancer.
    b = await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER: a.issuer } });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.destroy();
  });

  it('pushed on A, authorizes on B, and is then spent on both', async () => {
    const pushed = await push(a.url, webParams());
    expect(pushed.status).toBe(201);
    const query = new URLSearchParams({
      client_id: WEB.client_id,
      request_uri: String(pushed.body.request_uri),
    });
    const ua = new UserAgent(a.issuer);
    const atB = await ua.request(`${b.url}/authorize?${query}`);
    expect(atB.status).toBe(303);
    const interaction = new URL(atB.headers.get('location')!, a.issuer);
    expect(interaction.pathname).toMatch(/^\/interaction\//);
    const callback = await signIn(ua, interaction.href, TEST_USERS.alice);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    for (const base of [a.url, b.url]) {
      const again = await fetch(`${base}/authorize?${query}`, { redirect: 'manual' });
      expect(await authorizationError(again)).toMatchObject({ status: 400, error: 'invalid_request_uri' });
    }
  });
});
