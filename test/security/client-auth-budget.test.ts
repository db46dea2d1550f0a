import {
  SSOOIDCClient,
  RegisterClientCommand,
  CreateTokenCommand,
  InvalidClientException,
  SlowDownException,
  InvalidGrantException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basicAuth } from '../support/flows.js';

/**
 * Trust boundary: client authentication. The per-client failure budget must hold whatever
 * way the secret is presented (Basic header, client_secret_post in the body, a client
 * assertion) and whichever door it comes through (/token, or the AWS API's CreateToken, which
 * calls /token in-process and must be counted against the original caller's address).
 */
const POINTS = 3;
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const POST = TEST_CLIENTS.post;
const WEB = TEST_CLIENTS.web;

describe('the client authentication failure budget', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      env: { TRUST_PROXY: '1' },
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

  /** A token request from `ip` with the given form and headers. */
  const token = (ip: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const codeGrant = (redirectUri: string) => ({
    grant_type: 'authorization_code',
    code: 'not-a-real-code',
    redirect_uri: redirectUri,
  });
  const postSecret = (ip: string, secret: string) =>
    token(ip, { ...codeGrant(POST.redirect_uris[0]), client_id: POST.client_id, client_secret: secret });

  async function expectSlowDown(res: Response) {
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toEqual({
      error: 'slow_down',
      error_description: expect.stringMatching(
        /^too many failed client authentications; retry after \d+ seconds$/,
      ),
    });
  }

  it('blocks bad client_secret_post secrets (client_id in the body) for that client from that address', async () => {
    for (let i = 0; i < POINTS; i += 1) {
      const res = await postSecret('203.0.113.1', 'wrong');
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
    // Blocked before the secret is looked at: the right one is refused too.
    await expectSlowDown(await postSecret('203.0.113.1', POST.client_secret));
    // The client from its own address authenticates (only the made-up code is wrong).
    const elsewhere = await postSecret('198.51.100.1', POST.client_secret);
    expect(await elsewhere.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('counts failures across authentication methods: Basic, client_secret_post and client assertions', async () => {
    const ip = '203.0.113.2';
    const grant = codeGrant(WEB.redirect_uris[0]);
    const assertion = [
      Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
      Buffer.from(
        JSON.stringify({ iss: WEB.client_id, sub: WEB.client_id, aud: gh.issuer, exp: 9999999999, jti: 'x' }),
      ).toString('base64url'),
      'c2lnbmF0dXJl',
    ].join('.');
    const failures = [
      token(ip, grant, { authorization: basicAuth(WEB.client_id, 'wrong') }),
      token(ip, { ...grant, client_id: WEB.client_id, client_secret: 'wrong' }),
      token(ip, {
        ...grant,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    ];
    for (const pending of failures) {
      const res = await pending;
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
    await expectSlowDown(
      await token(ip, grant, { authorization: basicAuth(WEB.client_id, WEB.client_secret) }),
    );
  });

  it('counts failures at /par (pushed authorization requests) like those at /token', async () => {
    const ip = '203.0.113.3';
    const par = (authorization: string) =>
      fetch(`${gh.issuer}/par`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': ip,
          authorization,
        },
        body: new URLSearchParams({
          client_id: WEB.client_id,
          response_type: 'code',
          redirect_uri: WEB.redirect_uris[0],
          scope: 'openid',
        }).toString(),
      });
    for (let i = 0; i < POINTS; i += 1) {
      const res = await par(basicAuth(WEB.client_id, 'wrong'));
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
    // Blocked at /par and at /token alike, before the secret is looked at.
    await expectSlowDown(await par(basicAuth(WEB.client_id, WEB.client_secret)));
    await expectSlowDown(
      await token(ip, codeGrant(WEB.redirect_uris[0]), {
        authorization: basicAuth(WEB.client_id, WEB.client_secret),
      }),
    );
  });

  describe('through the AWS API (CreateToken)', () => {
    /** An SDK client whose requests come from `ip` (TRUST_PROXY=1 reads X-Forwarded-For). */
    function ssoFrom(ip: string) {
      const sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
      sso.middlewareStack.add(
        (next) => (args) => {
          (args.request as { headers: Record<string, string> }).headers['x-forwarded-for'] = ip;
          return next(args);
        },
        { step: 'build' },
      );
      return sso;
    }
    let registered: { clientId: string; clientSecret: string };
    beforeAll(async () => {
      const sso = ssoFrom('192.0.2.1');
      const out = await sso.send(
        new RegisterClientCommand({ clientName: 'budget-test', clientType: 'public' }),
      );
      sso.destroy();
      registered = { clientId: out.clientId!, clientSecret: out.clientSecret! };
    });
    const createToken = (sso: SSOOIDCClient, clientSecret: string) =>
      sso.send(
        new CreateTokenCommand({
          clientId: registered.clientId,
          clientSecret,
          grantType: DEVICE,
          deviceCode: 'not-a-real-device-code',
        }),
      );

    it("blocks bad secrets for that client from the caller's address, answering SlowDownException", async () => {
      const attacker = ssoFrom('203.0.113.3');
      for (let i = 0; i < POINTS; i += 1) {
        await expect(createToken(attacker, 'wrong')).rejects.toBeInstanceOf(InvalidClientException);
      }
      await expect(createToken(attacker, registered.clientSecret)).rejects.toBeInstanceOf(SlowDownException);
      attacker.destroy();
      // Counted per original caller: another address (not the in-process 127.0.0.1) is not blocked.
      const owner = ssoFrom('198.51.100.3');
      await expect(createToken(owner, registered.clientSecret)).rejects.toBeInstanceOf(InvalidGrantException);
      owner.destroy();
    });

    it('answers in the AWS shape, with Retry-After', async () => {
      const res = await fetch(`${gh.issuer}/aws/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.3' },
        body: JSON.stringify({
          clientId: registered.clientId,
          clientSecret: registered.clientSecret,
          grantType: DEVICE,
          deviceCode: 'not-a-real-device-code',
        }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('SlowDownException');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await res.json()).toEqual({
        error: 'slow_down',
        error_description: expect.stringMatching(/^too many failed client authentications/),
        message: expect.stringMatching(/^too many failed client authentications/),
      });
    });

    it('shares one budget between /token and CreateToken', async () => {
      const ip = '203.0.113.4';
      const viaToken = (secret: string) =>
        token(ip, {
          grant_type: DEVICE,
          device_code: 'not-a-real-device-code',
          client_id: registered.clientId,
          client_secret: secret,
        });
      for (let i = 0; i < POINTS - 1; i += 1) expect((await viaToken('wrong')).status).toBe(401);
      const sso = ssoFrom(ip);
      await expect(createToken(sso, 'wrong')).rejects.toBeInstanceOf(InvalidClientException);
      await expectSlowDown(await viaToken(registered.clientSecret));
      await expect(createToken(sso, registered.clientSecret)).rejects.toBeInstanceOf(SlowDownException);
      sso.destroy();
    });
  });
});
