import { SSOOIDCClient, RegisterClientCommand } from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basicAuth } from '../support/flows.js';

/**
 * Trust boundary: client authentication. A client registered for client_secret_basic must not
 * authenticate with client_secret_post, nor the reverse (RFC 7591 §2: the registered
 * `token_endpoint_auth_method` is the one method the client uses), at every endpoint that
 * authenticates clients, for configured, test-API and AWS-registered clients alike.
 */
const WEB = TEST_CLIENTS.web; // client_secret_basic
const POST = TEST_CLIENTS.post; // client_secret_post
const POINTS = 4;

describe('the registered token_endpoint_auth_method', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      env: { TRUST_PROXY: '1', GATEHOUSE_MODE: 'test' },
      overrides: {
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          clientAuthPerClientAndIp: {
            points: POINTS,
            windowSeconds: 60,
            blockSeconds: 60,
            maxBlockSeconds: 60,
          },
        },
      },
    });
  });
  afterAll(() => gh?.stop());

  let ipCounter = 0;
  /** A fresh client address per test, so the failure budget of one test never affects another. */
  const freshIp = () => `198.51.100.${++ipCounter}`;

  const send = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${gh.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const asPost = (id: string, secret: string, form: Record<string, string>) => ({
    form: { ...form, client_id: id, client_secret: secret },
    headers: {},
  });
  const asBasic = (id: string, secret: string, form: Record<string, string>) => ({
    form,
    headers: { authorization: basicAuth(id, secret) },
  });
  const codeGrant = (redirectUri: string) => ({
    grant_type: 'authorization_code',
    code: 'not-a-real-code',
    redirect_uri: redirectUri,
  });

  async function expectInvalidClient(res: Response) {
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  }

  describe('POST /token', () => {
    it('refuses client_secret_post from a client_secret_basic client', async () => {
      const ip = freshIp();
      const { form } = asPost(WEB.client_id, WEB.client_secret, codeGrant(WEB.redirect_uris[0]));
      await expectInvalidClient(await send('/token', form, { 'x-forwarded-for': ip }));
      // The registered method with the same secret gets past client authentication.
      const ok = asBasic(WEB.client_id, WEB.client_secret, codeGrant(WEB.redirect_uris[0]));
      const res = await send('/token', ok.form, { ...ok.headers, 'x-forwarded-for': ip });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    });

    it('refuses client_secret_basic from a client_secret_post client', async () => {
      const ip = freshIp();
      const { form, headers } = asBasic(POST.client_id, POST.client_secret, codeGrant(POST.redirect_uris[0]));
      await expectInvalidClient(await send('/token', form, { ...headers, 'x-forwarded-for': ip }));
      const ok = asPost(POST.client_id, POST.client_secret, codeGrant(POST.redirect_uris[0]));
      const res = await send('/token', ok.form, { 'x-forwarded-for': ip });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    });

    it('counts a wrong method against the client-auth failure budget', async () => {
      const ip = freshIp();
      const { form } = asPost(WEB.client_id, WEB.client_secret, codeGrant(WEB.redirect_uris[0]));
      for (let i = 0; i < POINTS; i++) {
        await expectInvalidClient(await send('/token', form, { 'x-forwarded-for': ip }));
      }
      const ok = asBasic(WEB.client_id, WEB.client_secret, codeGrant(WEB.redirect_uris[0]));
      const blocked = await send('/token', ok.form, { ...ok.headers, 'x-forwarded-for': ip });
      expect(blocked.status).toBe(429);
    });
  });

  describe.each([
    ['/revoke', { token: 'not-a-real-token' }, 200],
    ['/introspect', { token: 'not-a-real-token' }, 200],
  ])('POST %s', (path, params, okStatus) => {
    it('refuses the other secret method and accepts the registered one', async () => {
      const ip = freshIp();
      const wrong = asPost(WEB.client_id, WEB.client_secret, params);
      await expectInvalidClient(await send(path, wrong.form, { 'x-forwarded-for': ip }));
      const wrongPost = asBasic(POST.client_id, POST.client_secret, params);
      await expectInvalidClient(
        await send(path, wrongPost.form, { ...wrongPost.headers, 'x-forwarded-for': ip }),
      );
      const ok = asBasic(WEB.client_id, WEB.client_secret, params);
      expect((await send(path, ok.form, { ...ok.headers, 'x-forwarded-for': ip })).status).toBe(okStatus);
    });
  });

  it('POST /par refuses the other secret method and accepts the registered one', async () => {
    const ip = freshIp();
    const request = (clientId: string, redirectUri: string) => ({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
    });
    const wrong = asPost(WEB.client_id, WEB.client_secret, request(WEB.client_id, WEB.redirect_uris[0]));
    await expectInvalidClient(await send('/par', wrong.form, { 'x-forwarded-for': ip }));
    const wrongPost = asBasic(
      POST.client_id,
      POST.client_secret,
      request(POST.client_id, POST.redirect_uris[0]),
    );
    await expectInvalidClient(
      await send('/par', wrongPost.form, { ...wrongPost.headers, 'x-forwarded-for': ip }),
    );
    const ok = asBasic(WEB.client_id, WEB.client_secret, request(WEB.client_id, WEB.redirect_uris[0]));
    const res = await send('/par', ok.form, { ...ok.headers, 'x-forwarded-for': ip });
    expect(res.status).toBe(201);
    expect(await res.json()).toHaveProperty('request_uri');
  });

  it('POST /device_authorization refuses the other method for a test-API client', async () => {
    const created = await fetch(`${gh.issuer}/_test/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    expect(created.status).toBe(201);
    const client = (await created.json()) as { client_id: string; client_secret: string };
    const ip = freshIp();
    const wrong = asPost(client.client_id, client.client_secret, { scope: 'openid' });
    await expectInvalidClient(await send('/device_authorization', wrong.form, { 'x-forwarded-for': ip }));
    const ok = asBasic(client.client_id, client.client_secret, { scope: 'openid' });
    const res = await send('/device_authorization', ok.form, { ...ok.headers, 'x-forwarded-for': ip });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('device_code');
  });

  it('refuses client_secret_basic from an AWS RegisterClient client (registered client_secret_post)', async () => {
    const sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
    const reg = await sso.send(
      new RegisterClientCommand({ clientName: 'method-test', clientType: 'public' }),
    );
    const ip = freshIp();
    const params = { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'nope' };
    const wrong = asBasic(reg.clientId!, reg.clientSecret!, params);
    await expectInvalidClient(await send('/token', wrong.form, { ...wrong.headers, 'x-forwarded-for': ip }));
    const ok = asPost(reg.clientId!, reg.clientSecret!, params);
    const res = await send('/token', ok.form, { 'x-forwarded-for': ip });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
