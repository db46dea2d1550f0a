import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  InvalidGrantException,
} from '@aws-sdk/client-sso-oidc';
import {
  SSOClient,
  LogoutCommand,
  ListAccountsCommand,
  GetRoleCredentialsCommand,
  ListAccountRolesCommand,
  UnauthorizedException,
  InvalidRequestException,
} from '@aws-sdk/client-sso';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';
import { postAsClient, userinfo } from '../support/grant-requests.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { findBotocorePython } from '../support/botocore.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../support/botocore_sso_oidc.py', import.meta.url));
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

describe.each(['memory', 'redis'] as const)(
  'the AWS access portal API under /aws/portal (%s store)',
  (kind) => {
    let redis: RedisServer | undefined;
    let gh: RunningGatehouse;
    let oidc: SSOOIDCClient;
    let portal: SSOClient;
    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      gh = await startTestGatehouse({
        overrides: { deviceFlow: FAST_DEVICE_FLOW },
        ...(redis ? { env: { REDIS_URL: redis.url } } : {}),
      });
      oidc = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
      portal = new SSOClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/portal`, maxAttempts: 1 });
    });
    afterAll(async () => {
      oidc?.destroy();
      portal?.destroy();
      await gh?.stop();
      await redis?.destroy();
    });

    /** `aws sso login`'s calls: RegisterClient with scopes, the device flow approved by alice, CreateToken. */
    async function signIn() {
      const client = await oidc.send(
        new RegisterClientCommand({
          clientName: 'botocore-client-gh',
          clientType: 'public',
          scopes: ['sso:account:access'],
        }),
      );
      const credentials = { clientId: client.clientId!, clientSecret: client.clientSecret! };
      const start = await oidc.send(
        new StartDeviceAuthorizationCommand({
          ...credentials,
          startUrl: 'https://d-0000000000.awsapps.com/start',
        }),
      );
      await approveDevice(gh.issuer, start.verificationUriComplete!);
      const tokens = await oidc.send(
        new CreateTokenCommand({ ...credentials, grantType: DEVICE, deviceCode: start.deviceCode! }),
      );
      return { ...credentials, accessToken: tokens.accessToken!, refreshToken: tokens.refreshToken! };
    }

    const introspect = async (token: string) =>
      (await postAsClient(gh.issuer, '/introspect', TEST_CLIENTS.service, { token })).body.active;

    it('Logout (JS SDK) answers 200 with x-amzn-RequestId and revokes the access token, its refresh token and its grant', async () => {
      const session = await signIn();
      expect(await introspect(session.refreshToken)).toBe(true);

      const out = await portal.send(new LogoutCommand({ accessToken: session.accessToken }));
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(out.$metadata.requestId).toEqual(expect.any(String));

      expect((await userinfo(gh.issuer, session.accessToken)).status).toBe(401);
      expect(await introspect(session.accessToken)).toBe(false);
      expect(await introspect(session.refreshToken)).toBe(false);
      await expect(
        oidc.send(
          new CreateTokenCommand({
            clientId: session.clientId,
            clientSecret: session.clientSecret,
            grantType: 'refresh_token',
            refreshToken: session.refreshToken,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidGrantException);

      // The token is gone: a second Logout is UnauthorizedException (401), as at AWS.
      const again = portal.send(new LogoutCommand({ accessToken: session.accessToken }));
      await expect(again).rejects.toBeInstanceOf(UnauthorizedException);
      await expect(again).rejects.toMatchObject({ $metadata: { httpStatusCode: 401 } });
    }, 30_000);

    it('Logout (botocore) answers 200 with the request id in ResponseMetadata, then UnauthorizedException', async () => {
      const python = findBotocorePython();
      const session = await signIn();
      const logout = async () =>
        JSON.parse(
          (
            await run(
              python,
              [
                SCRIPT,
                `${gh.issuer}/aws/portal`,
                'logout',
                JSON.stringify({ accessToken: session.accessToken }),
              ],
              {
                env: { ...process.env, BOTOCORE_SERVICE: 'sso' },
              },
            )
          ).stdout,
        ) as {
          ok?: Record<string, unknown>;
          requestId?: string | null;
          error?: string;
          status?: number;
          body?: Record<string, unknown>;
        };
      const first = await logout();
      expect(first.ok).toEqual({});
      expect(first.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await introspect(session.refreshToken)).toBe(false);
      expect(await logout()).toMatchObject({
        error: 'UnauthorizedException',
        status: 401,
        body: { message: 'Session token not found or invalid' },
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    }, 30_000);

    it('ListAccounts, ListAccountRoles and GetRoleCredentials answer InvalidRequestException: not supported', async () => {
      const session = await signIn();
      for (const command of [
        new ListAccountsCommand({ accessToken: session.accessToken }),
        new ListAccountRolesCommand({ accessToken: session.accessToken, accountId: '111122223333' }),
        new GetRoleCredentialsCommand({
          accessToken: session.accessToken,
          accountId: '111122223333',
          roleName: 'Developer',
        }),
      ]) {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- three command types, one client
        const answer = portal.send(command as any);
        await expect(answer).rejects.toBeInstanceOf(InvalidRequestException);
        await expect(answer).rejects.toMatchObject({ message: expect.stringMatching(/is not supported/) });
      }
      // They did not touch the session.
      expect(await introspect(session.accessToken)).toBe(true);
    }, 30_000);

    it('answers unknown paths with UnknownOperationException (404) and wrong methods with 405, in the AWS shape', async () => {
      const unknown = await fetch(`${gh.issuer}/aws/portal/no/such/operation`, { method: 'POST' });
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
      expect(unknown.headers.get('x-amzn-requestid')).toBe(unknown.headers.get('x-request-id'));
      expect(await unknown.json()).toEqual({ message: 'no operation at POST /aws/portal/no/such/operation' });

      const root = await fetch(`${gh.issuer}/aws/portal`);
      expect(root.status).toBe(404);
      expect(root.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');

      const get = await fetch(`${gh.issuer}/aws/portal/logout`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
      expect(get.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
      expect(get.headers.get('x-amzn-requestid')).toEqual(expect.any(String));

      const missing = await fetch(`${gh.issuer}/aws/portal/logout`, { method: 'POST' });
      expect(missing.status).toBe(400);
      expect(missing.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
      expect(await missing.json()).toEqual({ message: 'the x-amz-sso_bearer_token header is required' });
    });
  },
);

describe('the AWS access portal API with aws.enabled=false', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { aws: { enabled: false } } });
  });
  afterAll(() => gh?.stop());

  it('is not served', async () => {
    const res = await fetch(`${gh.issuer}/aws/portal/logout`, {
      method: 'POST',
      headers: { 'x-amz-sso_bearer_token': 'anything' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBeNull();
  });
});
