import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { loadConfig, ConfigError } from '../../src/config/load-config.js';
import { UserAgent, readForm } from '../support/browserless.js';

const RP = {
  client_id: 'rp-under-test',
  client_secret: 'rp-under-test-secret-0123',
  redirect_uris: ['http://127.0.0.1:5173/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
};

describe('test-IdP mode', () => {
  let gh: RunningGatehouse;
  let config: client.Configuration;
  beforeAll(async () => {
    gh = await startGatehouse({
      mode: 'test',
      port: 0,
      host: '127.0.0.1',
      env: { LOG_LEVEL: 'silent' },
      overrides: { clients: [RP] },
    });
    // RP is registered (by default) for client_secret_basic, the only method Gatehouse accepts from it.
    config = await client.discovery(
      new URL(gh.issuer),
      RP.client_id,
      RP.client_secret,
      client.ClientSecretBasic(RP.client_secret),
      {
        execute: [client.allowInsecureRequests],
      },
    );
  });
  afterAll(() => gh?.stop());

  /** Starts a code flow; returns what the browser sees first, and the PKCE verifier and nonce. */
  async function authorize(params: Record<string, string>, ua = new UserAgent(gh.issuer)) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: RP.redirect_uris[0]!,
      scope: 'openid profile email',
      nonce,
      state: 'st',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    });
    const { res, url: at } = await ua.follow(url.href);
    return { res, at, verifier, nonce, ua };
  }

  async function redeem(callback: string, verifier: string, nonce: string) {
    return client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: 'st',
    });
  }

  it('signs login_hint’s user in without showing a page, with claims derived from the username', async () => {
    const { res, at, verifier, nonce } = await authorize({ login_hint: 'carol' });
    expect(res.status).toBe(303);
    expect(at.startsWith(RP.redirect_uris[0]!)).toBe(true);
    const tokens = await redeem(at, verifier, nonce);
    expect(tokens.claims()).toMatchObject({ sub: 'carol' });
    const info = await client.fetchUserInfo(config, tokens.access_token, 'carol');
    expect(info).toEqual({
      sub: 'carol',
      preferred_username: 'carol',
      name: 'carol',
      email: 'carol@example.com',
      email_verified: true,
    });
  });

  it('still shows the sign-in page when prompt=login asks for it, and accepts any password', async () => {
    const { res, at, verifier, nonce, ua } = await authorize({ login_hint: 'dave', prompt: 'login' });
    const html = await res.text();
    expect(html).toContain('name="claims"');
    const form = readForm(html);
    expect(form.fields.username).toBe('dave');
    const done = await ua.submit(new URL(form.action, at).href, {
      ...form.fields,
      password: '',
      claims: '{"email":"dave@corp.example","groups":["admins"]}',
    });
    // Consent was not asked for, so it is granted without a page.
    expect(done.url.startsWith(RP.redirect_uris[0]!)).toBe(true);
    const tokens = await redeem(done.url, verifier, nonce);
    const info = await client.fetchUserInfo(config, tokens.access_token, 'dave');
    expect(info.email).toBe('dave@corp.example');
  });

  it('keeps PKCE, redirect URI and nonce strict', async () => {
    const ua = new UserAgent(gh.issuer);
    const wrongRedirect = await ua.follow(
      `${gh.issuer}/authorize?client_id=${RP.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:5173/other')}&login_hint=x`,
    );
    expect(wrongRedirect.res.status).toBe(400);
    const { at, nonce } = await authorize({ login_hint: 'erin' });
    await expect(redeem(at, client.randomPKCECodeVerifier(), nonce)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  describe('the /_test API', () => {
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${gh.issuer}/_test${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
    };

    it('creates and removes clients, which then work at the standard endpoints', async () => {
      const created = await api('POST', '/clients', {
        redirect_uris: ['http://127.0.0.1:9999/cb'],
        grant_types: ['client_credentials'],
        response_types: [],
      });
      expect(created.status).toBe(201);
      const { client_id: id, client_secret: secret } = created.body as {
        client_id: string;
        client_secret: string;
      };
      const cc = await fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      expect(cc.status).toBe(200);
      expect((await api('DELETE', `/clients/${id}`)).status).toBe(204);
      expect((await api('DELETE', `/clients/${id}`)).status).toBe(404);
    });

    it('accepts dpop_bound_access_tokens: that client gets no token without a DPoP proof', async () => {
      const created = await api('POST', '/clients', {
        grant_types: ['client_credentials'],
        response_types: [],
        dpop_bound_access_tokens: true,
      });
      expect(created.status).toBe(201);
      const { client_id: id, client_secret: secret } = created.body as Record<string, string>;
      const cc = await fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      expect(cc.status).toBe(400);
      expect(((await cc.json()) as { error: string }).error).toBe('invalid_grant');
      const bad = {
        grant_types: ['client_credentials'],
        response_types: [],
        dpop_bound_access_tokens: 'yes',
      };
      expect(await api('POST', '/clients', bad)).toMatchObject({
        status: 400,
        body: { error: 'invalid_client_metadata' },
      });
    });

    it('refuses bad client metadata and bad JSON in the OAuth error shape', async () => {
      expect(await api('POST', '/clients', { redirect_uris: 'nope' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_redirect_uri' },
      });
      expect(await api('POST', '/clients', '{oops')).toEqual({
        status: 400,
        body: { error: 'invalid_request', error_description: 'the request body is not valid JSON' },
      });
    });

    it('creates users, queues next-login claims, and mints tokens without a browser', async () => {
      expect(
        (await api('POST', '/users', { username: 'frank', claims: { name: 'Frank Test' } })).status,
      ).toBe(201);
      expect(
        (await api('PUT', '/users/frank/next-login-claims', { email: 'frank@next.example' })).status,
      ).toBe(204);
      const minted = await api('POST', '/tokens', {
        client_id: RP.client_id,
        username: 'frank',
        scope: 'openid profile email offline_access',
        nonce: 'n1',
      });
      expect(minted.status).toBe(200);
      const tokens = minted.body as { access_token: string; id_token: string; refresh_token: string };
      expect(decodeJwt(tokens.id_token)).toMatchObject({
        sub: 'frank',
        nonce: 'n1',
        name: 'Frank Test',
        email: 'frank@next.example',
        aud: RP.client_id,
      });
      const info = await client.fetchUserInfo(config, tokens.access_token, 'frank');
      expect(info).toMatchObject({ sub: 'frank', name: 'Frank Test', email: 'frank@next.example' });
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      expect(refreshed.access_token).toEqual(expect.any(String));
      expect((await api('DELETE', '/users/frank')).status).toBe(204);
    });

    it('answers mint errors in the OAuth shape', async () => {
      expect(await api('POST', '/tokens', { client_id: 'nope', username: 'x' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_client' },
      });
      expect(
        await api('POST', '/tokens', { client_id: RP.client_id, username: 'x', scope: 'openid admin' }),
      ).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
      expect(await api('POST', '/tokens', { client_id: RP.client_id })).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
      });
    });

    it('revokes everything, and resets all state', async () => {
      const minted = (await api('POST', '/tokens', { client_id: RP.client_id, username: 'gina' })).body as {
        access_token: string;
      };
      expect((await api('POST', '/revoke-all')).status).toBe(200);
      await expect(client.fetchUserInfo(config, minted.access_token, 'gina')).rejects.toThrow();
      const created = (await api('POST', '/clients', { redirect_uris: ['http://127.0.0.1:9999/cb'] }))
        .body as { client_id: string };
      expect((await api('POST', '/reset')).status).toBe(200);
      expect((await api('DELETE', `/clients/${created.client_id}`)).status).toBe(404);
      // Signing keys survive a reset.
      expect((await fetch(`${gh.issuer}/jwks`)).status).toBe(200);
    });
  });
});

describe('test mode outside test mode', () => {
  it('is refused in production', () => {
    expect(() => loadConfig({ env: { NODE_ENV: 'production', GATEHOUSE_MODE: 'test' } })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ env: { NODE_ENV: 'production' }, mode: 'test' })).toThrow(
      /test mode .* refused when NODE_ENV=production/,
    );
  });

  it('serves no /_test API in standard mode', async () => {
    const gh = await startGatehouse({ port: 0, host: '127.0.0.1', env: { LOG_LEVEL: 'silent' } });
    expect((await fetch(`${gh.issuer}/_test/reset`, { method: 'POST' })).status).toBe(404);
    await gh.stop();
  });
});
