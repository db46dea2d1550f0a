import * as client from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';

const RP = {
  client_id: 'rp-under-test',
  client_secret: 'rp-under-test-secret-0123',
  redirect_uris: ['http://127.0.0.1:5173/callback'],
  grant_types: ['authorization_code'],
};
const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';

describe('test mode: the test API sets the next sign-in’s amr and acr', () => {
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
    config = await client.discovery(
      new URL(gh.issuer),
      RP.client_id,
      RP.client_secret,
      client.ClientSecretBasic(RP.client_secret),
      { execute: [client.allowInsecureRequests] },
    );
  });
  afterAll(() => gh?.stop());

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gh.issuer}/_test${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  /** A code flow through openid-client; `username` signs in on the page, else login_hint does. */
  async function signIn(options: { hint?: string; username?: string }) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: RP.redirect_uris[0]!,
      scope: 'openid',
      nonce,
      state: 'st',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(options.hint ? { login_hint: options.hint } : {}),
      // The page: prompt=login shows it even with a hint; the hint then lets consent pass quietly.
      ...(options.username ? { login_hint: options.username, prompt: 'login' } : {}),
    });
    const ua = new UserAgent(gh.issuer);
    let { res, url: at } = await ua.follow(url.href);
    if (options.username) {
      const form = readForm(await res.text());
      ({ res, url: at } = await ua.submit(new URL(form.action, at).href, {
        ...form.fields,
        username: options.username,
      }));
    }
    expect(at.startsWith(RP.redirect_uris[0]!)).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, new URL(at), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: 'st',
    });
    return tokens.claims()!;
  }

  it('applies the queued amr and acr to the next sign-in only (login_hint)', async () => {
    expect(
      (await api('PUT', '/users/zoe/next-login-auth', { amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR })).status,
    ).toBe(204);
    expect(await signIn({ hint: 'zoe' })).toMatchObject({
      sub: 'zoe',
      amr: ['pwd', 'otp', 'mfa'],
      acr: MFA_ACR,
    });
    const next = await signIn({ hint: 'zoe' });
    expect(next.amr).toEqual(['test']);
    expect(next.acr).toBeUndefined();
  });

  it('applies them to a sign-in on the page too; acr alone keeps amr "test"', async () => {
    expect((await api('PUT', '/users/Yuri/next-login-auth', { amr: ['hwk', 'user'] })).status).toBe(204);
    expect(await signIn({ username: 'yuri' })).toMatchObject({ sub: 'yuri', amr: ['hwk', 'user'] });
    expect((await api('PUT', '/users/yuri/next-login-auth', { acr: 'urn:example:acr:gold' })).status).toBe(
      204,
    );
    expect(await signIn({ username: 'yuri' })).toMatchObject({ amr: ['test'], acr: 'urn:example:acr:gold' });
  });

  it.each([
    ['an empty object', {}],
    ['amr not a list', { amr: 'pwd' }],
    ['an empty amr list', { amr: [] }],
    ['amr with spaces', { amr: ['p w d'] }],
    ['an unknown member', { amr: ['pwd'], extra: 1 }],
    ['acr not text', { acr: 5 }],
    ['not JSON', '{'],
  ])('refuses %s with invalid_request', async (_what, body) => {
    const res = await api('PUT', '/users/xavier/next-login-auth', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
  });
});
