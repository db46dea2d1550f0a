import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';
import { startDeviceAuthorization } from '../support/browser.js';
import { loginWithCliLoop } from '../support/botocore-login.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';

/** Signs a fresh RegisterClient client in with the device flow, through the AWS SDK. */
async function deviceLogin(gh: RunningGatehouse, sso: SSOOIDCClient, scopes?: string[]) {
  const client = await sso.send(
    new RegisterClientCommand({ clientName: 'cli', clientType: 'public', ...(scopes ? { scopes } : {}) }),
  );
  const auth = await sso.send(
    new StartDeviceAuthorizationCommand({
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      startUrl: START_URL,
    }),
  );
  await approveDevice(gh.issuer, auth.verificationUriComplete!);
  const tokens = await sso.send(
    new CreateTokenCommand({
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      grantType: DEVICE,
      deviceCode: auth.deviceCode,
    }),
  );
  return { client, tokens };
}

/** The token's remaining lifetime according to /introspect. */
async function remainingSeconds(gh: RunningGatehouse, token: string, clientId: string, clientSecret: string) {
  const res = await fetch(`${gh.issuer}/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, client_id: clientId, client_secret: clientSecret }),
  });
  const body = (await res.json()) as { active: boolean; exp: number };
  expect(body.active).toBe(true);
  return body.exp - Math.floor(Date.now() / 1000);
}

describe('AWS token lifetimes and refresh tokens, as AWS IAM Identity Center gives them (defaults)', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  it('a client that registered no scopes (a legacy profile) gets an 8-hour access token and no refresh token', async () => {
    const { client, tokens } = await deviceLogin(gh, sso);
    expect(tokens.expiresIn).toBe(28800);
    expect(tokens.refreshToken).toBeUndefined();
    const remaining = await remainingSeconds(gh, tokens.accessToken!, client.clientId!, client.clientSecret!);
    expect(remaining).toBeGreaterThan(28800 - 5);
    expect(remaining).toBeLessThanOrEqual(28800);
  });

  it('a client that registered scopes (an sso-session) gets a 1-hour access token and a refresh token, on refresh too', async () => {
    const { client, tokens } = await deviceLogin(gh, sso, ['sso:account:access']);
    expect(tokens.expiresIn).toBe(3600);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    const refreshed = await sso.send(
      new CreateTokenCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        grantType: 'refresh_token',
        refreshToken: tokens.refreshToken,
      }),
    );
    expect(refreshed.expiresIn).toBe(3600);
    expect(refreshed.refreshToken).toEqual(expect.any(String));
  });

  it('the AWS CLI v2’s own login gets the same: no refresh token for a legacy profile, one for an sso-session', async () => {
    const legacy = await loginWithCliLoop(`${gh.issuer}/aws/oidc`, gh.issuer, null);
    expect(legacy.failed).toBeUndefined();
    expect(legacy.token!.refreshToken).toBeUndefined();
    const hours = (Date.parse(String(legacy.token!.expiresAt)) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    const session = await loginWithCliLoop(`${gh.issuer}/aws/oidc`, gh.issuer, ['sso:account:access']);
    expect(session.failed).toBeUndefined();
    expect(session.token!.refreshToken).toEqual(expect.any(String));
  }, 60_000);

  it('leaves other clients as they were: ttl.accessToken, and a refresh token for offline_access', async () => {
    const device = TEST_CLIENTS.device;
    const form = (body: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });
    const start = await startDeviceAuthorization(gh.issuer, 'openid offline_access');
    await approveDevice(gh.issuer, start.verification_uri_complete);
    await new Promise((r) => setTimeout(r, 1000));
    const tokens = (await fetch(
      `${gh.issuer}/token`,
      form({ client_id: device.client_id, grant_type: DEVICE, device_code: start.device_code }),
    ).then((r) => r.json())) as { expires_in: number; refresh_token?: string };
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });
});

describe('aws.accessTokenSeconds and aws.accessTokenWithoutRefreshSeconds', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: { aws: { accessTokenSeconds: 900, accessTokenWithoutRefreshSeconds: 7200 } },
    });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  it('set the two lifetimes', async () => {
    expect((await deviceLogin(gh, sso)).tokens.expiresIn).toBe(7200);
    expect((await deviceLogin(gh, sso, ['sso:account:access'])).tokens.expiresIn).toBe(900);
  });
});
