import { createHash, randomBytes } from 'node:crypto';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  InvalidClientException,
  InvalidGrantException,
  InvalidRequestException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { approveDevice } from '../support/flows.js';
import { signIn, UserAgent } from '../support/browserless.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The AWS shape of an error answer, with its request ids. */
async function expectAwsError(res: Response, status: number, exception: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('x-amzn-errortype')).toBe(exception);
  expect(res.headers.get('x-amzn-requestid')).toMatch(UUID);
  expect(res.headers.get('x-amzn-requestid')).toBe(res.headers.get('x-request-id'));
  const body = (await res.json()) as { error: string; error_description: string; message: string };
  expect(body).toEqual({
    error: expect.any(String),
    error_description: expect.any(String),
    message: body.error_description,
  });
  return body;
}

describe('the AWS API’s headers and errors', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        http: { bodyLimitBytes: 4096 },
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          clientAuthPerClientAndIp: { points: 3, windowSeconds: 60, blockSeconds: 30, maxBlockSeconds: 30 },
        },
      },
    });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gh.issuer}/aws/oidc${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const register = (scopes?: string[]) =>
    sso.send(
      new RegisterClientCommand({ clientName: 'cli', clientType: 'public', ...(scopes ? { scopes } : {}) }),
    );
  const startDevice = async (client: { clientId?: string; clientSecret?: string }) =>
    sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: START_URL,
      }),
    );
  const pollAs = (client: { clientId?: string; clientSecret?: string }, deviceCode: string) =>
    sso.send(
      new CreateTokenCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        grantType: DEVICE,
        deviceCode,
      }),
    );

  describe('x-amzn-RequestId', () => {
    it('carries the request id on a success, and the SDK reports it as $metadata.requestId', async () => {
      const res = await post('/client/register', { clientName: 'x', clientType: 'public' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amzn-requestid')).toMatch(UUID);
      expect(res.headers.get('x-amzn-requestid')).toBe(res.headers.get('x-request-id'));
      expect((await register()).$metadata.requestId).toMatch(UUID);
    });

    it('carries a sane incoming X-Request-Id (the one Gatehouse logs)', async () => {
      const res = await post(
        '/client/register',
        { clientName: 'x', clientType: 'public' },
        { 'x-request-id': 'trace-1234' },
      );
      expect(res.headers.get('x-amzn-requestid')).toBe('trace-1234');
    });

    it('carries it on operation errors', async () => {
      const client = await register();
      const auth = await startDevice(client);
      const res = await post('/token', {
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        grantType: DEVICE,
        deviceCode: auth.deviceCode,
      });
      await expectAwsError(res, 400, 'AuthorizationPendingException');
    });

    it('carries it on a 405 for a wrong method, and for a method nothing implements', async () => {
      const get = await fetch(`${gh.issuer}/aws/oidc/token`);
      expect(get.headers.get('allow')).toBe('POST');
      await expectAwsError(get, 405, 'InvalidRequestException');
      const trace = await fetch(`${gh.issuer}/aws/oidc/token`, { method: 'PROPFIND' });
      const body = await expectAwsError(trace, 405, 'InvalidRequestException');
      expect(body.error_description).toMatch(/PROPFIND/);
    });

    it('carries it on a 413 for a body over the limit', async () => {
      const res = await post('/client/register', { clientName: 'x'.repeat(5000), clientType: 'public' });
      await expectAwsError(res, 413, 'InvalidRequestException');
    });

    it('carries it on SlowDownException with Retry-After once a client fails authentication too often', async () => {
      const client = await register();
      const attempts: Response[] = [];
      for (let i = 0; i < 5; i += 1) {
        attempts.push(
          await post('/device_authorization', {
            clientId: client.clientId,
            clientSecret: 'wrong',
            startUrl: START_URL,
          }),
        );
      }
      await expectAwsError(attempts[0]!, 401, 'InvalidClientException');
      const limited = attempts.at(-1)!;
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectAwsError(limited, 400, 'SlowDownException');
    });
  });

  describe('a path the AWS API does not serve', () => {
    it('answers InvalidRequestException with status 404 naming the operations served, to browsers too', async () => {
      for (const [method, path, accept] of [
        ['POST', '/aws/oidc/v2/token', 'application/json'],
        ['GET', '/aws/oidc', 'text/html'],
        ['DELETE', '/aws/oidc/client', '*/*'],
      ] as const) {
        const res = await fetch(`${gh.issuer}${path}`, { method, headers: { accept } });
        const body = await expectAwsError(res, 404, 'InvalidRequestException');
        expect(body.error).toBe('invalid_request');
        expect(body.error_description).toBe(
          `unknown operation: ${method} ${path}; the AWS API serves POST /client/register, /device_authorization and /token under /aws/oidc`,
        );
      }
    });

    it('surfaces in the AWS SDK as InvalidRequestException with status 404 and that message', async () => {
      const wrong = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc/v2` });
      try {
        const err = await wrong
          .send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' }))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidRequestException);
        expect((err as InvalidRequestException).$metadata.httpStatusCode).toBe(404);
        expect((err as InvalidRequestException).$metadata.requestId).toMatch(UUID);
        expect((err as InvalidRequestException).message).toMatch(
          /^unknown operation: POST \/aws\/oidc\/v2\/client\/register/,
        );
      } finally {
        wrong.destroy();
      }
    });
  });

  describe('InvalidGrantException says which case it is, to the authenticated client only', () => {
    const grantError = async (promise: Promise<unknown>) => {
      const err = await promise.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidGrantException);
      return (err as InvalidGrantException).error_description;
    };

    it('an unknown device code, and another client’s device code, read the same', async () => {
      const owner = await register();
      const other = await register();
      const auth = await startDevice(owner);
      const unknown = await grantError(pollAs(owner, randomBytes(32).toString('base64url')));
      expect(unknown).toBe('unknown device code: not issued to this client, or revoked');
      expect(await grantError(pollAs(other, auth.deviceCode!))).toBe(unknown);
    });

    it('a caller without the client secret gets InvalidClientException and learns nothing about the code', async () => {
      const owner = await register();
      const auth = await startDevice(owner);
      for (const deviceCode of [auth.deviceCode!, randomBytes(32).toString('base64url')]) {
        const err = await pollAs(
          { clientId: owner.clientId, clientSecret: 'not-the-secret' },
          deviceCode,
        ).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidClientException);
        expect((err as InvalidClientException).error_description).not.toMatch(/device code/);
      }
    });

    it('a rotated refresh token used again says so (and its tokens are revoked)', async () => {
      const client = await register(['sso:account:access']);
      const auth = await startDevice(client);
      await approveDevice(gh.issuer, auth.verificationUriComplete!);
      const tokens = await pollAs(client, auth.deviceCode!);
      const refreshWith = (refreshToken: string) =>
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'refresh_token',
            refreshToken,
          }),
        );
      const refreshed = await refreshWith(tokens.refreshToken!);
      expect(await grantError(refreshWith(tokens.refreshToken!))).toMatch(
        /^refresh token already used: it was rotated/,
      );
      expect(await grantError(refreshWith(refreshed.refreshToken!))).toMatch(/^unknown refresh token/);
      expect(await grantError(refreshWith('no-such-token'))).toMatch(/^unknown refresh token/);
    }, 20_000);

    it('a PKCE mismatch and a wrong redirectUri say so', async () => {
      const client = await sso.send(
        new RegisterClientCommand({
          clientName: 'pkce',
          clientType: 'public',
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: ['http://127.0.0.1/oauth/callback'],
          scopes: ['sso:account:access'],
        }),
      );
      const codeFor = async (verifier: string) => {
        const redirectUri = 'http://127.0.0.1:45123/oauth/callback';
        const url =
          `${gh.issuer}/authorize?response_type=code&client_id=${encodeURIComponent(client.clientId!)}` +
          `&redirect_uri=${encodeURIComponent(redirectUri)}&state=s&code_challenge_method=S256&scope=sso%3Aaccount%3Aaccess` +
          `&code_challenge=${createHash('sha256').update(verifier).digest('base64url')}`;
        const callback = await signIn(new UserAgent(gh.issuer), url, TEST_USERS.alice);
        return { code: callback.searchParams.get('code')!, redirectUri };
      };
      const redeem = (code: string, redirectUri: string, codeVerifier: string) =>
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'authorization_code',
            code,
            redirectUri,
            codeVerifier,
          }),
        );
      const verifier = randomBytes(48).toString('base64url');
      const first = await codeFor(verifier);
      expect(
        await grantError(redeem(first.code, first.redirectUri, randomBytes(48).toString('base64url'))),
      ).toBe('PKCE verification failed: codeVerifier does not match the code challenge');
      const second = await codeFor(verifier);
      expect(await grantError(redeem(second.code, 'http://127.0.0.1:45124/oauth/callback', verifier))).toBe(
        'redirectUri does not match the one of the authorization request',
      );
    }, 20_000);
  });
});

describe('the AWS API while the store is down', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  let down = false;
  beforeAll(async () => {
    redis = await startRedisServer();
    gh = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    if (down) {
      // Back up and reconnected, so Gatehouse closes its connection cleanly.
      await redis.start();
      for (let i = 0; i < 50 && (await fetch(`${gh.issuer}/readyz`)).status !== 200; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await gh?.stop();
    await redis?.destroy();
  });

  it('answers InternalServerException with Retry-After and x-amzn-RequestId, never a stack trace', async () => {
    await redis.stop();
    down = true;
    let res: Response | undefined;
    for (let i = 0; i < 30; i += 1) {
      res = await fetch(`${gh.issuer}/aws/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          clientId: 'x',
          clientSecret: 'y',
          grantType: 'refresh_token',
          refreshToken: 'z',
        }),
      });
      if (res.status >= 500) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res!.headers.get('retry-after')).toBe('1');
    const body = await expectAwsError(res!, 500, 'InternalServerException');
    expect(body.error).toBe('temporarily_unavailable');
    expect(JSON.stringify(body)).not.toMatch(/\bat \S+:\d+/);
  });
});
