import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { approveDevice, basicAuth } from '../support/flows.js';
import { postAwsJson, registerAwsClient, type ClientCredentials } from '../support/grant-requests.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Trust boundary: the AWS API's in-process request to the provider's /token
 * (oidc/aws-api-requests.ts). The provider sees a form the AWS API built from the model's members
 * only: a caller cannot add OAuth parameters through members the model does not have, through
 * the values of those it has, or through its own HTTP headers.
 */
describe('the AWS API’s in-process request to the provider', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
  });
  afterAll(() => gh?.stop());

  const aws = (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    postAwsJson(gh.issuer, path, body, headers);

  /** A device code of `client` that alice approved. */
  async function approvedDeviceCode(client: ClientCredentials): Promise<string> {
    const start = await aws('/device_authorization', {
      clientId: client.client_id,
      clientSecret: client.client_secret,
      startUrl: 'https://d-0000000000.awsapps.com/start',
    });
    expect(start.status).toBe(200);
    await approveDevice(gh.issuer, start.body.verificationUriComplete!);
    return start.body.deviceCode!;
  }

  it('ignores members the model does not have, OAuth parameter names included', async () => {
    const client = await registerAwsClient(gh.issuer);
    const other = await registerAwsClient(gh.issuer);
    const deviceCode = await approvedDeviceCode(client);
    // Had any of these reached the provider, it would refuse the request (a second client
    // authentication method, a resource not configured) or answer for another client.
    const created = await aws('/token', {
      clientId: client.client_id,
      clientSecret: client.client_secret,
      grantType: DEVICE,
      deviceCode,
      client_id: other.client_id,
      client_secret: other.client_secret,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'e30.e30.',
      resource: 'https://elsewhere.example.com',
      grant_type: 'client_credentials',
    });
    expect(created.status).toBe(200);
    expect(created.body.accessToken).toEqual(expect.any(String));
    expect(created.body.tokenType).toBe('Bearer');
  });

  it('passes every value as one parameter: a value cannot add others', async () => {
    const client = await registerAwsClient(gh.issuer);
    const deviceCode = await approvedDeviceCode(client);
    const smuggled = await aws('/token', {
      clientId: client.client_id,
      clientSecret: `wrong&client_secret=${client.client_secret}`,
      grantType: DEVICE,
      deviceCode,
    });
    expect(smuggled).toMatchObject({ status: 401, type: 'InvalidClientException' });
    const padded = await aws('/token', {
      clientId: client.client_id,
      clientSecret: client.client_secret,
      grantType: DEVICE,
      deviceCode: `unknown&device_code=${deviceCode}`,
    });
    expect(padded).toMatchObject({ status: 400, type: 'InvalidGrantException' });
    // Neither touched the real code: it still redeems, once.
    const created = await aws('/token', {
      clientId: client.client_id,
      clientSecret: client.client_secret,
      grantType: DEVICE,
      deviceCode,
    });
    expect(created.status).toBe(200);
    expect(created.body.accessToken).toEqual(expect.any(String));
  });

  it('sends none of the caller’s headers: its Authorization is not a second client authentication', async () => {
    const client = await registerAwsClient(gh.issuer);
    const other = await registerAwsClient(gh.issuer);
    const deviceCode = await approvedDeviceCode(client);
    // The provider refuses a request authenticated two ways, and would answer for `other` with
    // its Basic credentials alone; the AWS API authenticates with the members only.
    const created = await aws(
      '/token',
      { clientId: client.client_id, clientSecret: client.client_secret, grantType: DEVICE, deviceCode },
      { authorization: basicAuth(other.client_id, other.client_secret) },
    );
    expect(created.status).toBe(200);
    expect(created.body.accessToken).toEqual(expect.any(String));
  });
});
