import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  AuthorizationPendingException,
  SlowDownException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { approveDevice } from '../support/flows.js';
import { startDeviceAuthorization } from '../support/browser.js';
import { loginWithCliLoop } from '../support/botocore-login.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['memory', 'redis'])('device polling on the AWS API as AWS does it (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    // Default intervals: 5 s at the standard endpoint, 1 s on the AWS API.
    gh = await startTestGatehouse({ env: kind === 'redis' ? { REDIS_URL: redis!.url } : {} });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
    await redis?.destroy();
  });

  const startDevice = async () => {
    const client = await sso.send(
      new RegisterClientCommand({ clientName: 'cli', clientType: 'public', scopes: ['sso:account:access'] }),
    );
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: START_URL,
      }),
    );
    const poll = () =>
      sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: DEVICE,
          deviceCode: auth.deviceCode,
        }),
      );
    return { auth, poll };
  };

  it('advertises interval 1 and lets botocore’s sequence (poll, immediate poll, polls 1 s apart) through', async () => {
    const { auth, poll } = await startDevice();
    expect(auth.interval).toBe(1);
    await expect(poll()).rejects.toBeInstanceOf(AuthorizationPendingException); // before the prompt
    await expect(poll()).rejects.toBeInstanceOf(AuthorizationPendingException); // the loop's first
    for (let i = 0; i < 3; i += 1) {
      await sleep(1000);
      await expect(poll()).rejects.toBeInstanceOf(AuthorizationPendingException);
    }
    await approveDevice(gh.issuer, auth.verificationUriComplete!);
    await sleep(1000);
    expect((await poll()).accessToken).toEqual(expect.any(String));
  }, 30_000);

  it('answers SlowDownException to the third of five rapid polls, and after it holds the grown interval', async () => {
    const { poll } = await startDevice();
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      outcomes.push(
        await poll().then(
          () => 'ok',
          (err: Error) => err.name,
        ),
      );
    }
    expect(outcomes.slice(0, 2)).toEqual(['AuthorizationPendingException', 'AuthorizationPendingException']);
    expect(outcomes.slice(2)).toEqual(['SlowDownException', 'SlowDownException', 'SlowDownException']);
    const err = await poll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlowDownException);
    expect((err as SlowDownException).error_description).toMatch(/wait at least \d+ seconds/);
  });

  it('keeps the standard endpoint’s own interval (5 s) and slows its second rapid poll down', async () => {
    const device = TEST_CLIENTS.device;
    const form = (body: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });
    const start = await startDeviceAuthorization(gh.issuer, 'openid');
    expect(start.interval).toBe(5);
    const poll = () =>
      fetch(
        `${gh.issuer}/token`,
        form({ client_id: device.client_id, grant_type: DEVICE, device_code: start.device_code }),
      ).then((r) => r.json() as Promise<{ error: string }>);
    expect((await poll()).error).toBe('authorization_pending');
    expect((await poll()).error).toBe('slow_down');
  });

  it('signs in through the AWS CLI v2’s own polling loop without a single SlowDownException', async () => {
    const report = await loginWithCliLoop(`${gh.issuer}/aws/oidc`, gh.issuer, ['sso:account:access']);
    expect(report.failed).toBeUndefined();
    expect(report.token).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    const outcomes = report.polls.map((p) => p.outcome);
    expect(outcomes).not.toContain('SlowDownException');
    expect(outcomes.at(-1)).toBe('ok');
    // It polled twice back to back (before the prompt and as the loop began), then about once a second.
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    expect(report.polls[1]!.at - report.polls[0]!.at).toBeLessThan(1);
    // botocore read x-amzn-RequestId into ResponseMetadata.RequestId, errors and success alike.
    for (const p of report.polls) expect(p.requestId).toMatch(/^[0-9a-f-]{36}$/);
  }, 60_000);
});
