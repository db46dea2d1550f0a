import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';
import { findBotocorePython } from '../support/botocore.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../support/botocore_sso_oidc.py', import.meta.url));

describe('the AWS API driven by botocore (the library behind boto3 and the AWS CLI)', () => {
  let gh: RunningGatehouse;
  let python: string;
  beforeAll(async () => {
    python = findBotocorePython();
    gh = await startTestGatehouse({
      overrides: {
        deviceFlow: FAST_DEVICE_FLOW,
      },
    });
  });
  afterAll(() => gh?.stop());

  const call = async (operation: string, params: Record<string, unknown>) => {
    const { stdout } = await run(python, [
      SCRIPT,
      `${gh.issuer}/aws/oidc`,
      operation,
      JSON.stringify(params),
    ]);
    return JSON.parse(stdout) as {
      ok?: Record<string, unknown>;
      error?: string;
      status?: number;
      body?: Record<string, unknown>;
    };
  };

  it('registers, starts a device authorization, polls (pending), and gets tokens after approval', async () => {
    // With registration scopes, as an sso-session registers: AWS gives such clients refresh tokens.
    const reg = await call('register_client', {
      clientName: 'botocore',
      clientType: 'public',
      scopes: ['sso:account:access'],
    });
    const { clientId, clientSecret } = reg.ok as { clientId: string; clientSecret: string };
    const start = await call('start_device_authorization', {
      clientId,
      clientSecret,
      startUrl: 'https://d-0000000000.awsapps.com/start',
    });
    const auth = start.ok as { deviceCode: string; verificationUriComplete: string; interval: number };
    expect(auth.interval).toBe(1);

    const pending = await call('create_token', {
      clientId,
      clientSecret,
      grantType: 'urn:ietf:params:oauth:grant-type:device_code',
      deviceCode: auth.deviceCode,
    });
    expect(pending).toMatchObject({
      error: 'AuthorizationPendingException',
      status: 400,
      body: { error: 'authorization_pending' },
    });

    await approveDevice(gh.issuer, auth.verificationUriComplete);
    await new Promise((r) => setTimeout(r, 1100));
    const tokens = await call('create_token', {
      clientId,
      clientSecret,
      grantType: 'urn:ietf:params:oauth:grant-type:device_code',
      deviceCode: auth.deviceCode,
    });
    expect(tokens.ok).toMatchObject({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      refreshToken: expect.any(String),
    });

    // botocore's SSO token refresh: CreateToken with refresh_token must return a new refresh token.
    const refreshed = await call('create_token', {
      clientId,
      clientSecret,
      grantType: 'refresh_token',
      refreshToken: tokens.ok!.refreshToken,
    });
    expect(refreshed.ok!.refreshToken).toEqual(expect.any(String));
    expect(refreshed.ok!.refreshToken).not.toBe(tokens.ok!.refreshToken);
  }, 30_000);

  it('gets InvalidClientException for a wrong secret', async () => {
    const reg = await call('register_client', { clientName: 'botocore', clientType: 'public' });
    const res = await call('start_device_authorization', {
      clientId: reg.ok!.clientId,
      clientSecret: 'wrong',
      startUrl: 'https://d-0000000000.awsapps.com/start',
    });
    expect(res).toMatchObject({ error: 'InvalidClientException', status: 401 });
  }, 30_000);
});
