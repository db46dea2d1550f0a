import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  InvalidClientException,
  InvalidGrantException,
  type CreateTokenCommandOutput,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { approveDevice } from '../support/flows.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';
const GRACE = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Client = { clientId?: string; clientSecret?: string };

/**
 * The lost-response retry grace (aws.redeemedRetryGraceSeconds): a redeemed device code polled
 * again by its own client within the grace is refused without revoking the tokens just issued;
 * every other replay (later, from another client) revokes them, and a caller without the client
 * secret is stopped at client authentication. The redemption time lives in the store, so on Redis
 * a retry that reaches another instance is treated the same.
 */
describe.each(['memory', 'redis'])('a redeemed device code presented again (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let other: RunningGatehouse | undefined;
  let sso: SSOOIDCClient;
  let ssoOther: SSOOIDCClient;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    const options = {
      env: (kind === 'redis' ? { REDIS_URL: redis!.url } : {}) as Record<string, string>,
      overrides: { deviceFlow: FAST_DEVICE_FLOW, aws: { redeemedRetryGraceSeconds: GRACE } },
    };
    gh = await startTestGatehouse(options);
    // On Redis a second instance shares the store: retries may land on either.
    if (kind === 'redis') other = await startTestGatehouse(options);
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
    ssoOther = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${(other ?? gh).issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    ssoOther?.destroy();
    await other?.stop();
    await gh?.stop();
    await redis?.destroy();
  });

  const register = () =>
    sso.send(
      new RegisterClientCommand({ clientName: 'cli', clientType: 'public', scopes: ['sso:account:access'] }),
    );
  const poll = (via: SSOOIDCClient, client: Client, deviceCode: string) =>
    via.send(
      new CreateTokenCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        grantType: DEVICE,
        deviceCode,
      }),
    );
  /** Registers, approves and redeems a device code; returns the client, the code and the tokens. */
  const redeemed = async () => {
    const client = await register();
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: START_URL,
      }),
    );
    await approveDevice(gh.issuer, auth.verificationUriComplete!);
    const tokens = await poll(sso, client, auth.deviceCode!);
    return { client, deviceCode: auth.deviceCode!, tokens };
  };
  const isActive = async (client: Client, tokens: CreateTokenCommandOutput) => {
    const res = await fetch(`${gh.issuer}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: tokens.accessToken!,
        client_id: client.clientId!,
        client_secret: client.clientSecret!,
      }),
    });
    return ((await res.json()) as { active: boolean }).active;
  };
  const invalidGrant = async (promise: Promise<unknown>) => {
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidGrantException);
    return (err as InvalidGrantException).error_description;
  };

  it('a retry by the same client within the grace is refused and the tokens stay valid (on any instance)', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    expect(await invalidGrant(poll(ssoOther, client, deviceCode))).toBe(
      'device code already redeemed moments ago: a retry this soon by the same client does not revoke what was issued for it',
    );
    expect(await invalidGrant(poll(sso, client, deviceCode))).toMatch(/does not revoke/);
    expect(await isActive(client, tokens)).toBe(true);
    // The refresh token still works too.
    const refreshed = await sso.send(
      new CreateTokenCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        grantType: 'refresh_token',
        refreshToken: tokens.refreshToken,
      }),
    );
    expect(refreshed.accessToken).toEqual(expect.any(String));
  }, 20_000);

  it('a replay by the same client after the grace revokes the tokens', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    await sleep((GRACE + 1) * 1000 + 200);
    expect(await invalidGrant(poll(ssoOther, client, deviceCode))).toBe(
      'device code already redeemed: a device code is single-use, so the tokens issued for it have been revoked',
    );
    expect(await isActive(client, tokens)).toBe(false);
  }, 20_000);

  it('another client presenting the code within the grace gets “unknown device code”, and the tokens are revoked', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    const attacker = await register();
    expect(await invalidGrant(poll(ssoOther, attacker, deviceCode))).toBe(
      'unknown device code: not issued to this client, or revoked',
    );
    expect(await isActive(client, tokens)).toBe(false);
  }, 20_000);

  it('another client presenting it at the standard /token revokes the tokens too', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    const attacker = await register();
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: DEVICE,
        device_code: deviceCode,
        client_id: attacker.clientId!,
        client_secret: attacker.clientSecret!,
      }),
    });
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'grant request is invalid',
    });
    expect(await isActive(client, tokens)).toBe(false);
  }, 20_000);

  it('a caller without the client secret is refused at client authentication and changes nothing', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    const err = await poll(sso, { clientId: client.clientId, clientSecret: 'guessed' }, deviceCode).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidClientException);
    expect(await isActive(client, tokens)).toBe(true);
  }, 20_000);

  it('the standard /token keeps oidc-provider’s rule: an immediate replay revokes', async () => {
    const { client, deviceCode, tokens } = await redeemed();
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: DEVICE,
        device_code: deviceCode,
        client_id: client.clientId!,
        client_secret: client.clientSecret!,
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(await isActive(client, tokens)).toBe(false);
  }, 20_000);
});

describe('aws.redeemedRetryGraceSeconds: 0', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { aws: { redeemedRetryGraceSeconds: 0 } } });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  it('revokes on an immediate retry by the same client', async () => {
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
    await approveDevice(gh.issuer, auth.verificationUriComplete!);
    const poll = () =>
      sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: DEVICE,
          deviceCode: auth.deviceCode,
        }),
      );
    await poll();
    const err = await poll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidGrantException);
    expect((err as InvalidGrantException).error_description).toMatch(/have been revoked/);
  });
});
