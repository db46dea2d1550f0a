import {
  CreateTokenCommand,
  InternalServerException,
  InvalidGrantException,
  RegisterClientCommand,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { approveDevice } from '../support/flows.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { redisCli, waitUntil } from '../support/redis-topologies.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The AWS API's CreateToken goes through the provider's /token and the same store adapter, so
 * its device-code and refresh-token consumes are acknowledged by replicas too: while none
 * acknowledges, it answers InternalServerException (the model's exception for an outage) and
 * issues nothing.
 */
describe('AWS CreateToken with replica-acknowledged consumes', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await waitUntil('replica link', async () =>
      (await redisCli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
    );
    gh = await startTestGatehouse({
      env: { REDIS_URL: master.url },
      overrides: {
        deviceFlow: FAST_DEVICE_FLOW,
        redis: { consumeAckReplicas: 1, consumeAckTimeoutMs: 1000 },
      },
    });
    // One attempt: the SDK would otherwise retry the 500 on its own.
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc`, maxAttempts: 1 });
  }, 30_000);
  afterAll(async () => {
    replica?.thaw();
    sso?.destroy();
    await gh?.stop();
    await replica?.destroy();
    await master?.destroy();
  });

  /** Runs `send` with the replica stalled, so no consume can be acknowledged. */
  async function withStalledReplica<T>(send: () => Promise<T>): Promise<T> {
    replica.freeze();
    try {
      return await send();
    } finally {
      replica.thaw();
    }
  }

  async function approvedDeviceCode() {
    const client = await sso.send(
      new RegisterClientCommand({ clientName: 'cli', clientType: 'public', scopes: ['sso:account:access'] }),
    );
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: 'https://d-0000000000.awsapps.com/start',
      }),
    );
    expect(await approveDevice(gh.issuer, auth.verificationUriComplete!)).toContain('Device connected');
    const poll = () =>
      sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: DEVICE,
          deviceCode: auth.deviceCode,
        }),
      );
    return { client, poll };
  }

  it('issues no tokens for a device code while no replica acknowledges its consume', async () => {
    const { poll } = await approvedDeviceCode();
    await expect(withStalledReplica(poll)).rejects.toBeInstanceOf(InternalServerException);
    await waitUntil('readiness', async () => (await fetch(`${gh.issuer}/readyz`)).status === 200);
    // The device code was spent on the master: the device starts over, it is never redeemed twice.
    await expect(poll()).rejects.toBeInstanceOf(InvalidGrantException);
  }, 30_000);

  it('issues no tokens for a refresh token while no replica acknowledges its rotation', async () => {
    const { client, poll } = await approvedDeviceCode();
    const tokens = await poll();
    expect(tokens.refreshToken).toEqual(expect.any(String));
    const refresh = () =>
      sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: 'refresh_token',
          refreshToken: tokens.refreshToken,
        }),
      );
    await expect(withStalledReplica(refresh)).rejects.toBeInstanceOf(InternalServerException);
    await waitUntil('readiness', async () => (await fetch(`${gh.issuer}/readyz`)).status === 200);
    await expect(refresh()).rejects.toBeInstanceOf(InvalidGrantException);
  }, 30_000);
});
