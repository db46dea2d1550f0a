import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import {
  FAST_DEVICE_FLOW,
  RESOURCE,
  startTestGatehouse,
  TEST_CLIENTS,
  TEST_USERS,
} from '../support/gatehouse.js';
import { UserAgent, readForm, signIn } from '../support/browserless.js';
import { approveDevice } from '../support/flows.js';

const insecure = { execute: [client.allowInsecureRequests] };

describe('relying-party flows through openid-client', () => {
  let gh: RunningGatehouse;
  /** Discovery for a test client, authenticating with its registered method (basic by default). */
  const discover = (
    c: { client_id: string; client_secret?: string; token_endpoint_auth_method?: string },
    auth?: client.ClientAuth,
  ) =>
    client.discovery(
      new URL(gh.issuer),
      c.client_id,
      c.client_secret,
      auth ??
        (c.token_endpoint_auth_method === 'client_secret_post' || !c.client_secret
          ? undefined
          : client.ClientSecretBasic(c.client_secret)),
      insecure,
    );
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
  });
  afterAll(() => gh?.stop());

  async function codeFlow(
    config: client.Configuration,
    redirectUri: string,
    params: Record<string, string> = {},
    ua = new UserAgent(gh.issuer),
  ) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email',
      nonce,
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    });
    const callback = await signIn(ua, url.href, TEST_USERS.alice);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
    });
    return { tokens, ua };
  }

  it('public client with PKCE: refresh rotates, and a reused refresh token revokes the grant', async () => {
    const config = await discover(TEST_CLIENTS.spa, client.None());
    const { tokens } = await codeFlow(config, TEST_CLIENTS.spa.redirect_uris[0], {
      scope: 'openid email offline_access',
      prompt: 'consent',
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(client.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(
      client.fetchUserInfo(config, rotated.access_token, client.skipSubjectCheck),
    ).rejects.toThrow();
  });

  it('no refresh token without offline_access', async () => {
    const config = await discover(TEST_CLIENTS.web);
    const { tokens } = await codeFlow(config, TEST_CLIENTS.web.redirect_uris[0]);
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('revokes a token, after which introspection says inactive', async () => {
    const config = await discover(TEST_CLIENTS.web);
    const { tokens } = await codeFlow(config, TEST_CLIENTS.web.redirect_uris[0]);
    const before = await client.tokenIntrospection(config, tokens.access_token);
    expect(before).toMatchObject({
      active: true,
      sub: 'alice-0001',
      client_id: 'web-app',
      scope: 'openid email',
    });
    await client.tokenRevocation(config, tokens.access_token);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
  });

  it('client credentials with a scope and a resource', async () => {
    const config = await discover(TEST_CLIENTS.service);
    const plain = await client.clientCredentialsGrant(config, { scope: 'api:read' });
    expect(plain).toMatchObject({ token_type: 'bearer', scope: 'api:read' });
    const forApi = await client.clientCredentialsGrant(config, {
      scope: 'api:read api:write',
      resource: RESOURCE,
    });
    const introspected = await client.tokenIntrospection(config, forApi.access_token);
    expect(introspected).toMatchObject({
      active: true,
      client_id: 'service',
      aud: RESOURCE,
      scope: 'api:read api:write',
    });
  });

  it('device authorization grant, approved on the pages', async () => {
    const config = await discover(TEST_CLIENTS.device, client.None());
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
    expect(auth).toMatchObject({ interval: 1, verification_uri: `${gh.issuer}/device` });
    expect(await approveDevice(gh.issuer, auth.verification_uri_complete!)).toContain('Device connected');
    const tokens = await client.pollDeviceAuthorizationGrant(config, auth);
    expect(tokens.claims()?.sub).toBe('alice-0001');
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('RP-initiated logout returns to post_logout_redirect_uri with state, and ends the session', async () => {
    const config = await discover(TEST_CLIENTS.web);
    const { tokens, ua } = await codeFlow(config, TEST_CLIENTS.web.redirect_uris[0]);
    const logoutUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: TEST_CLIENTS.web.post_logout_redirect_uris[0],
      state: 'bye-1',
    });
    // The hint names this very session: no confirmation page (logout.confirm "when-needed").
    const done = await ua.follow(logoutUrl.href);
    expect(done.res.status).toBe(303);
    expect(done.url).toBe(`${TEST_CLIENTS.web.post_logout_redirect_uris[0]}?state=bye-1`);
    const none = await ua.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
        scope: 'openid',
        prompt: 'none',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        state: 's',
      }).href,
    );
    expect(new URL(none.url).searchParams.get('error')).toBe('login_required');
  });

  it('prompt=login and max_age=0 ask for the password again despite a session', async () => {
    const config = await discover(TEST_CLIENTS.web);
    const { ua } = await codeFlow(config, TEST_CLIENTS.web.redirect_uris[0]);
    for (const params of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
        scope: 'openid email',
        code_challenge: 'y'.repeat(43),
        code_challenge_method: 'S256',
        ...params,
      });
      const page = await ua.follow(url.href);
      expect(await page.res.text()).toContain('name="password"');
    }
  });

  it('answers in the fragment and by form_post when asked', async () => {
    const config = await discover(TEST_CLIENTS.web);
    const fragment = await signIn(
      new UserAgent(gh.issuer),
      client.buildAuthorizationUrl(config, {
        redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
        scope: 'openid',
        response_mode: 'fragment',
        state: 'f1',
        code_challenge: 'z'.repeat(43),
        code_challenge_method: 'S256',
      }).href,
      TEST_USERS.alice,
    );
    const hash = new URLSearchParams(fragment.hash.slice(1));
    expect(hash.get('state')).toBe('f1');
    expect(hash.get('code')).toEqual(expect.any(String));
    expect(hash.get('iss')).toBe(gh.issuer);

    const ua = new UserAgent(gh.issuer);
    await signIn(
      ua,
      client.buildAuthorizationUrl(config, {
        redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
        scope: 'openid',
        state: 'p0',
        code_challenge: 'z'.repeat(43),
        code_challenge_method: 'S256',
      }).href,
      TEST_USERS.alice,
    );
    const posted = await ua.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
        scope: 'openid',
        response_mode: 'form_post',
        state: 'p1',
        code_challenge: 'z'.repeat(43),
        code_challenge_method: 'S256',
      }).href,
    );
    const form = readForm(await posted.res.text());
    expect(form.action).toBe(TEST_CLIENTS.web.redirect_uris[0]);
    expect(form.fields).toMatchObject({ state: 'p1', iss: gh.issuer, code: expect.any(String) });
  });

  it('serves the hybrid code id_token response type to the client that registered it, and refuses token', async () => {
    const config = await discover(TEST_CLIENTS.hybrid);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: TEST_CLIENTS.hybrid.redirect_uris[0],
      scope: 'openid',
      response_type: 'code id_token',
      nonce: 'hn',
      state: 'h1',
    });
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    const params = new URLSearchParams(callback.hash.slice(1));
    expect(params.get('id_token')).toEqual(expect.any(String));
    expect(params.get('code')).toEqual(expect.any(String));
    for (const responseType of ['token', 'code token', 'id_token token']) {
      const refused = await new UserAgent(gh.issuer).follow(
        client.buildAuthorizationUrl(config, {
          redirect_uri: TEST_CLIENTS.hybrid.redirect_uris[0],
          scope: 'openid',
          response_type: responseType,
          nonce: 'n',
          state: 's',
        }).href,
      );
      const location = new URL(refused.url);
      const error =
        location.searchParams.get('error') ?? new URLSearchParams(location.hash.slice(1)).get('error');
      expect(error).toBe('unsupported_response_type');
    }
  });
});
