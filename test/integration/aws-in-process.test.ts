import { Writable } from 'node:stream';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  AuthorizationPendingException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The AWS API hands its translated OAuth requests to the provider's own endpoints in the AWS
 * request's own turn (oidc/aws-api-requests.ts), not as a second HTTP request to the provider's
 * app: one AWS call is one request through Koa, and what the provider logs about it carries
 * the AWS request's id.
 */
describe('AWS API calls served in-process by the provider', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    gh = await startTestGatehouse({
      overrides: { deviceFlow: FAST_DEVICE_FLOW },
      logger: pino({ level: 'info' }, sink),
    });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc`, maxAttempts: 1 });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  /** Counts the HTTP requests Gatehouse's app and the provider's own app each handle during `call`. */
  async function countRequests<T>(call: () => Promise<T>) {
    // Koa's per-request entry (what app.callback() calls), absent from its type definitions.
    type KoaApp = { handleRequest(...args: unknown[]): unknown };
    const host = jest.spyOn(gh.app as unknown as KoaApp, 'handleRequest');
    const provider = jest.spyOn(gh.providers.current as unknown as KoaApp, 'handleRequest');
    try {
      const outcome = await call().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      return { outcome, host: host.mock.calls.length, provider: provider.mock.calls.length };
    } finally {
      host.mockRestore();
      provider.mockRestore();
    }
  }

  it('answers StartDeviceAuthorization and each CreateToken poll as one request, none of the provider app’s own', async () => {
    const client = await sso.send(new RegisterClientCommand({ clientName: 'cli', clientType: 'public' }));
    const credentials = { clientId: client.clientId!, clientSecret: client.clientSecret! };

    const start = await countRequests(() =>
      sso.send(
        new StartDeviceAuthorizationCommand({
          ...credentials,
          startUrl: 'https://d-0000000000.awsapps.com/start',
        }),
      ),
    );
    expect(start).toMatchObject({ host: 1, provider: 0 });
    const device = (start.outcome as { value: { deviceCode: string; verificationUriComplete: string } })
      .value;
    expect(device.deviceCode).toEqual(expect.any(String));

    const pending = await countRequests(() =>
      sso.send(new CreateTokenCommand({ ...credentials, grantType: DEVICE, deviceCode: device.deviceCode })),
    );
    expect(pending).toMatchObject({ host: 1, provider: 0 });
    expect((pending.outcome as { error: unknown }).error).toBeInstanceOf(AuthorizationPendingException);

    await approveDevice(gh.issuer, device.verificationUriComplete);
    const issued = await countRequests(() =>
      sso.send(new CreateTokenCommand({ ...credentials, grantType: DEVICE, deviceCode: device.deviceCode })),
    );
    expect(issued).toMatchObject({ host: 1, provider: 0 });
    const tokens = (issued.outcome as { value: { accessToken?: string; $metadata: { requestId?: string } } })
      .value;
    expect(tokens.accessToken).toEqual(expect.any(String));

    // The audit line of the issuance is the AWS request's: its id, as sent in x-amzn-RequestId.
    const requestId = tokens.$metadata.requestId;
    expect(requestId).toEqual(expect.any(String));
    const issuedLines = lines.filter(
      (l) => l.event === 'token.issued' && l.clientId === credentials.clientId,
    );
    expect(issuedLines).toHaveLength(1);
    expect(issuedLines[0]).toMatchObject({ requestId, grantType: DEVICE, audit: true });
    // And the access log has one line for that request: the AWS call itself.
    const requestLines = lines.filter((l) => l.msg === 'request' && l.requestId === requestId);
    expect(requestLines).toEqual([
      expect.objectContaining({ method: 'POST', path: '/aws/oidc/token', status: 200 }),
    ]);
  });
});
