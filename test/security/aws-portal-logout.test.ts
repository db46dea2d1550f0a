import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { approveDevice, obtainCode, redeemCode } from '../support/flows.js';
import { postAsClient, registerAwsClient, type ClientCredentials } from '../support/grant-requests.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const NOT_A_SESSION = { message: 'Session token not found or invalid' };
const BODY_LIMIT = 65536;

/** Who may end which sign-in at POST /aws/portal/logout, and what a caller learns from trying. */
describe('POST /aws/portal/logout (the access portal Logout) under attack', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
  });
  afterAll(() => gh?.stop());

  const logout = async (token: string | undefined, init: RequestInit = {}) => {
    const res = await fetch(`${gh.issuer}/aws/portal/logout`, {
      method: 'POST',
      ...init,
      headers: { ...(token === undefined ? {} : { 'x-amz-sso_bearer_token': token }), ...init.headers },
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('x-amzn-errortype'),
      requestId: res.headers.get('x-amzn-requestid'),
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  };
  const unauthorized = { status: 401, type: 'UnauthorizedException', body: NOT_A_SESSION };
  const active = async (token: string) =>
    (await postAsClient(gh.issuer, '/introspect', TEST_CLIENTS.service, { token })).body.active;

  /** Device authorization and token for an AWS-registered client, via the AWS API (CreateToken). */
  async function awsSession(client: ClientCredentials) {
    const post = async (path: string, body: Record<string, unknown>) =>
      (await (
        await fetch(`${gh.issuer}/aws/oidc${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()) as Record<string, string>;
    const credentials = { clientId: client.client_id, clientSecret: client.client_secret };
    const start = await post('/device_authorization', {
      ...credentials,
      startUrl: 'https://d-0000000000.awsapps.com/start',
    });
    await approveDevice(gh.issuer, start.verificationUriComplete!);
    const tokens = await post('/token', { ...credentials, grantType: DEVICE, deviceCode: start.deviceCode });
    if (!tokens.accessToken || !tokens.refreshToken) throw new Error(`no tokens: ${JSON.stringify(tokens)}`);
    return {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      deviceCode: start.deviceCode!,
    };
  }

  it('ends only the presented token’s own grant: the same client’s other sign-in and other clients’ stay', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const other = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const mine = await awsSession(cli);
    const mineAgain = await awsSession(cli); // a second login of the same CLI: a grant of its own
    const theirs = await awsSession(other);

    const answer = await logout(mine.accessToken);
    expect(answer).toMatchObject({ status: 200, body: undefined, requestId: expect.any(String) });
    expect(await active(mine.accessToken)).toBe(false);
    expect(await active(mine.refreshToken)).toBe(false);
    for (const token of [
      mineAgain.accessToken,
      mineAgain.refreshToken,
      theirs.accessToken,
      theirs.refreshToken,
    ]) {
      expect(await active(token)).toBe(true);
    }
  }, 60_000);

  it('refuses a configured client’s token exactly as an unknown one, and leaves it valid (only that client revokes it, at /revoke)', async () => {
    const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
    const web = (await redeemCode(gh.issuer, code, verifier)).body;
    expect(await logout(web.access_token)).toMatchObject(unauthorized);
    expect(await active(web.access_token!)).toBe(true);
    expect(await active(web.refresh_token!)).toBe(true);
  });

  it('answers every forged or misplaced credential with the same UnauthorizedException, revoking nothing', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const session = await awsSession(cli);
    const revoked = await awsSession(cli);
    expect((await logout(revoked.accessToken)).status).toBe(200);

    const forged = [
      randomBytes(32).toString('base64url'), // the shape of a real opaque token
      `${session.accessToken.slice(0, -1)}${session.accessToken.endsWith('A') ? 'B' : 'A'}`, // one character off
      session.refreshToken, // another kind of token of the same grant
      session.deviceCode,
      cli.client_secret,
      revoked.accessToken, // already logged out
      'a'.repeat(5000), // longer than any token: refused before any lookup
      '../../admin',
      'null',
    ];
    const answers = await Promise.all(forged.map((token) => logout(token)));
    for (const answer of answers) {
      expect(answer).toMatchObject(unauthorized);
      expect(answer.requestId).toEqual(expect.any(String));
    }
    expect(await active(session.accessToken)).toBe(true);
    expect(await active(session.refreshToken)).toBe(true);
  }, 60_000);

  it('takes the token only from x-amz-sso_bearer_token (not Authorization, a query or a body)', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const session = await awsSession(cli);
    const elsewhere = [
      await logout(undefined, { headers: { authorization: `Bearer ${session.accessToken}` } }),
      await (async () => {
        const res = await fetch(
          `${gh.issuer}/aws/portal/logout?accessToken=${encodeURIComponent(session.accessToken)}`,
          { method: 'POST' },
        );
        return { status: res.status, type: res.headers.get('x-amzn-errortype') };
      })(),
      await logout(undefined, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accessToken: session.accessToken }),
      }),
    ];
    for (const answer of elsewhere)
      expect(answer).toMatchObject({ status: 400, type: 'InvalidRequestException' });
    expect(await active(session.accessToken)).toBe(true);
  }, 30_000);

  it('refuses a DPoP-bound access token presented as a bearer token, and leaves it valid', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const form = async (path: string, params: Record<string, string>, headers: Record<string, string> = {}) =>
      (await (
        await fetch(`${gh.issuer}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({
            client_id: cli.client_id,
            client_secret: cli.client_secret,
            ...params,
          }),
        })
      ).json()) as Record<string, string>;
    const start = await form('/device_authorization', { scope: 'sso:account:access' });
    await approveDevice(gh.issuer, start.verification_uri_complete!);
    const key = await generateKeyPair('ES256');
    const proof = await new SignJWT({
      htm: 'POST',
      htu: `${gh.issuer}/token`,
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
      .sign(key.privateKey);
    const tokens = await form(
      '/token',
      { grant_type: DEVICE, device_code: start.device_code! },
      { dpop: proof },
    );
    expect(tokens.token_type).toBe('DPoP');

    expect(await logout(tokens.access_token)).toMatchObject(unauthorized);
    expect(await active(tokens.access_token!)).toBe(true);
  }, 30_000);

  it('the unsupported operations answer the same whatever the token: no oracle, nothing revoked', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const session = await awsSession(cli);
    for (const path of [
      '/assignment/accounts',
      '/assignment/roles?account_id=1',
      '/federation/credentials?role_name=r&account_id=1',
    ]) {
      const answers = await Promise.all(
        [session.accessToken, 'forged', undefined].map(async (token) => {
          const res = await fetch(`${gh.issuer}/aws/portal${path}`, {
            headers: token === undefined ? {} : { 'x-amz-sso_bearer_token': token },
          });
          return { status: res.status, type: res.headers.get('x-amzn-errortype'), body: await res.text() };
        }),
      );
      expect(answers[0]).toMatchObject({ status: 400, type: 'InvalidRequestException' });
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    }
    expect(await active(session.accessToken)).toBe(true);
  }, 30_000);

  it('refuses bodies over http.bodyLimitBytes with 413 in the portal’s shape, before acting on the token', async () => {
    const cli = await registerAwsClient(gh.issuer, { scopes: ['sso:account:access'] });
    const session = await awsSession(cli);
    const declared = await logout(session.accessToken, {
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(BODY_LIMIT + 1),
    });
    expect(declared).toMatchObject({
      status: 413,
      type: 'InvalidRequestException',
      requestId: expect.any(String),
      body: { message: `request body exceeds ${BODY_LIMIT} bytes` },
    });

    const chunked = await new Promise<{ status: number; type: unknown }>((resolve, reject) => {
      const url = new URL(gh.issuer);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: '/aws/portal/logout',
          method: 'POST',
          headers: { 'x-amz-sso_bearer_token': session.accessToken, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: res.headers['x-amzn-errortype'] }),
          );
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 4; i += 1) req.write('a'.repeat(20000));
      req.end();
    });
    expect(chunked).toEqual({ status: 413, type: 'InvalidRequestException' });
    expect(await active(session.accessToken)).toBe(true);
  }, 30_000);

  it('never answers a 5xx or a stack trace to odd requests', async () => {
    const odd = [
      await logout('', {}),
      await logout(' \t '),
      await logout(undefined, { method: 'PUT' }),
      await logout(undefined, { method: 'DELETE' }),
    ];
    for (const answer of odd) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(JSON.stringify(answer.body)).not.toMatch(/at \w+ \(|node_modules/);
    }
    const traversal = await fetch(`${gh.issuer}/aws/portal/..%2f..%2foidc%2ftoken`, { method: 'POST' });
    expect(traversal.status).toBe(404);
    expect(traversal.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});
