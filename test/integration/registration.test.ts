import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { authorize, codeFlow } from '../support/rp-client.js';

/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) at /register, through
 * openid-client, on the memory store and on Redis (where a client registered on one instance
 * works on another).
 */

const IAT = 'configured-initial-access-token-0123456789';
const REDIRECT = 'https://registered.example.com/cb';
export const REGISTRATION_ON = {
  registration: { enabled: true, open: false, initialAccessTokens: [IAT], maxRegistrationsPerHour: 1000 },
};

/** Registers with openid-client; the client authenticates with client_secret_basic (Gatehouse's default). */
const register = (issuer: string, metadata: Partial<client.ClientMetadata>, initialAccessToken?: string) =>
  client.dynamicClientRegistration(new URL(issuer), metadata, client.ClientSecretBasic(), {
    execute: [client.allowInsecureRequests],
    ...(initialAccessToken ? { initialAccessToken } : {}),
  });

const management = (url: string, token: string, method = 'GET', body?: unknown) =>
  fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

describe.each(['memory', 'redis'] as const)('client registration at /register (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let a: RunningGatehouse;
  let b: RunningGatehouse | undefined;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    const env: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
    a = await startTestGatehouse({ env, overrides: REGISTRATION_ON });
    if (redis)
      b = await startTestGatehouse({ env: { ...env, ISSUER: a.issuer }, overrides: REGISTRATION_ON });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await redis?.destroy();
  });

  it('advertises registration_endpoint in discovery', async () => {
    const discovered = await (await fetch(`${a.issuer}/.well-known/openid-configuration`)).json();
    expect(discovered.registration_endpoint).toBe(`${a.issuer}/register`);
  });

  it('registers a client with openid-client, which then signs a user in', async () => {
    const config = await register(
      a.issuer,
      { client_name: 'Registered app', redirect_uris: [REDIRECT], scope: 'openid email' },
      IAT,
    );
    const metadata = config.clientMetadata();
    expect(metadata.client_id).toEqual(expect.any(String));
    expect(metadata.client_secret).toEqual(expect.any(String));
    expect(metadata.registration_client_uri).toBe(`${a.issuer}/register/${metadata.client_id}`);
    expect(metadata.registration_access_token).toEqual(expect.any(String));
    const { tokens } = await codeFlow(config, REDIRECT);
    expect(tokens.claims()?.aud).toBe(metadata.client_id);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.email).toBe('alice@example.com');
  });

  it('refuses registration without an initial access token, or with a wrong one', async () => {
    const none = await fetch(`${a.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    // RFC 6750 §3.1: no token at all is answered 401 with a Bearer challenge.
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await none.json()).error).toBe('invalid_token');
    const wrong = await fetch(`${a.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-token-0123456789' },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error).toBe('invalid_token');
  });

  it('reads, replaces (rotating the registration access token) and deletes the client', async () => {
    const config = await register(a.issuer, { client_name: 'Managed', redirect_uris: [REDIRECT] }, IAT);
    const { client_id, registration_client_uri, registration_access_token } = config.clientMetadata() as {
      client_id: string;
      registration_client_uri: string;
      registration_access_token: string;
    };

    const read = await management(registration_client_uri, registration_access_token);
    expect(read.status).toBe(200);
    const current = await read.json();
    expect(current).toMatchObject({ client_id, client_name: 'Managed', redirect_uris: [REDIRECT] });

    // RFC 7592 §2.2: the whole record is sent back, changed; the markers it carries are Gatehouse's.
    const replaced = await management(registration_client_uri, registration_access_token, 'PUT', {
      ...current,
      registration_access_token: undefined,
      registration_client_uri: undefined,
      client_secret_expires_at: undefined,
      client_id_issued_at: undefined,
      client_name: 'Managed, renamed',
      redirect_uris: [REDIRECT, 'https://registered.example.com/cb2'],
    });
    expect(replaced.status).toBe(200);
    const updated = await replaced.json();
    expect(updated.client_name).toBe('Managed, renamed');
    expect(updated.client_secret).toBe(current.client_secret);
    expect(updated.registration_access_token).not.toBe(registration_access_token);
    expect((await management(registration_client_uri, registration_access_token)).status).toBe(401);

    const other = b ? `${registration_client_uri.replace(a.issuer, b.url)}` : registration_client_uri;
    expect((await management(other, updated.registration_access_token)).status).toBe(200);

    expect(
      (await management(registration_client_uri, updated.registration_access_token, 'DELETE')).status,
    ).toBe(204);
    expect((await management(registration_client_uri, updated.registration_access_token)).status).toBe(401);
    const gone = await fetch(
      `${a.issuer}/authorize?${new URLSearchParams({ client_id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid' })}`,
    );
    expect(gone.status).toBe(400);
    expect(await gone.text()).toContain('invalid_client');
  });

  // Two instances share state only through Redis.
  if (kind !== 'redis') return;
  it('lets a client registered on one instance sign a user in on another', async () => {
    if (!b) throw new Error('the second instance did not start');
    const bUrl = b.url;
    const registered = await register(a.issuer, { redirect_uris: [REDIRECT], scope: 'openid email' }, IAT);
    const { client_id, client_secret } = registered.clientMetadata();
    // Instance B's endpoints under the shared issuer.
    const server = Object.fromEntries(
      Object.entries(registered.serverMetadata()).map(([key, value]) => [
        key,
        typeof value === 'string' && key !== 'issuer' ? value.replace(a.issuer, bUrl) : value,
      ]),
    ) as client.ServerMetadata;
    const onB = new client.Configuration(
      server,
      client_id,
      undefined,
      client.ClientSecretBasic(client_secret as string),
    );
    client.allowInsecureRequests(onB);
    // The browser signs in at A (pages need one origin); B authenticates the client and redeems the code.
    const auth = await authorize(registered, REDIRECT);
    const tokens = await client.authorizationCodeGrant(onB, auth.callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    expect(tokens.claims()?.aud).toBe(client_id);
    const userinfo = await client.fetchUserInfo(onB, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.email).toBe('alice@example.com');
  });
});

describe('client registration switched off (the default)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('is neither advertised nor served', async () => {
    const discovered = await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json();
    expect(discovered).not.toHaveProperty('registration_endpoint');
    const res = await fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    expect(res.status).toBe(404);
  });
});

describe('open client registration (registration.open)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: { registration: { ...REGISTRATION_ON.registration, open: true, initialAccessTokens: [] } },
    });
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('registers without an initial access token', async () => {
    const config = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    expect(config.clientMetadata().registration_access_token).toEqual(expect.any(String));
    const { tokens } = await codeFlow(config, REDIRECT);
    expect(tokens.access_token).toEqual(expect.any(String));
  });
});
