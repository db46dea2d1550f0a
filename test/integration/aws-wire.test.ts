import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';

/** Raw HTTP checks of the AWS wire format: what botocore and the SDKs parse. */
describe('AWS API wire format', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  const post = (path: string, body: string, type = 'application/json') =>
    fetch(`${gh.issuer}/aws/oidc${path}`, { method: 'POST', headers: { 'content-type': type }, body });

  it.each([
    ['a non-JSON body', '{not json', 'application/json', 'the request body is not valid JSON'],
    ['a JSON array', '[]', 'application/json', 'the request body must be a JSON object'],
    [
      'a form body',
      'clientName=x&clientType=public',
      'application/x-www-form-urlencoded',
      'unsupported content type "application/x-www-form-urlencoded"',
    ],
    ['a missing required member', '{"clientName":"x"}', 'application/json', 'clientType is required'],
    [
      'a member of the wrong type',
      '{"clientName":"x","clientType":"public","scopes":"openid"}',
      'application/json',
      'scopes: Invalid input: expected array, received string',
    ],
  ])('answers %s with InvalidRequestException', async (_what, body, type, description) => {
    const res = await post('/client/register', body, type);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: description,
      message: description,
    });
  });

  it('ignores unknown members, as AWS does', async () => {
    const res = await post(
      '/client/register',
      JSON.stringify({ clientName: 'x', clientType: 'public', somethingNew: 1 }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('answers CreateToken errors with the model’s status, x-amzn-ErrorType and no `code` member', async () => {
    const res = await post(
      '/token',
      JSON.stringify({
        clientId: 'nobody',
        clientSecret: 'x',
        grantType: 'refresh_token',
        refreshToken: 'x',
      }),
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidClientException');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(body).not.toHaveProperty('code');
  });

  it('answers other methods 405 with InvalidRequestException and Allow: POST', async () => {
    const res = await fetch(`${gh.issuer}/aws/oidc/token`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
  });

  it('keeps tokens issued through the AWS API revocable at /revoke', async () => {
    const reg = (await (
      await post('/client/register', JSON.stringify({ clientName: 'x', clientType: 'public' }))
    ).json()) as {
      clientId: string;
      clientSecret: string;
    };
    const start = (await (
      await post(
        '/device_authorization',
        JSON.stringify({ ...reg, startUrl: 'https://d-0000000000.awsapps.com/start' }),
      )
    ).json()) as { deviceCode: string; verificationUriComplete: string };
    await approveDevice(gh.issuer, start.verificationUriComplete);
    const tokens = (await (
      await post(
        '/token',
        JSON.stringify({
          ...reg,
          grantType: 'urn:ietf:params:oauth:grant-type:device_code',
          deviceCode: start.deviceCode,
        }),
      )
    ).json()) as { accessToken: string };
    const form = (extra: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: tokens.accessToken,
        client_id: reg.clientId,
        client_secret: reg.clientSecret,
        ...extra,
      }),
    });
    expect((await (await fetch(`${gh.issuer}/introspect`, form({}))).json()).active).toBe(true);
    expect((await fetch(`${gh.issuer}/revoke`, form({}))).status).toBe(200);
    expect((await (await fetch(`${gh.issuer}/introspect`, form({}))).json()).active).toBe(false);
  });
});
