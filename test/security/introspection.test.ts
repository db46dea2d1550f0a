import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { obtainCode, redeemCode } from '../support/flows.js';
import {
  awsDeviceAccessToken,
  postAsClient,
  registerAwsClient,
  type ClientCredentials,
} from '../support/grant-requests.js';

/**
 * Trust boundary: /introspect (RFC 7662). Introspection tells who a token's user is and what it
 * may do; only the client it was issued to, and resource servers the operator named
 * (`gatehouse_resource_server`), may ask. Anyone else learns only `{"active":false}`, whether
 * the token exists or not (§2.2).
 */

const WEB = TEST_CLIENTS.web;
const POST = TEST_CLIENTS.post; // confidential (client_secret_post), not a resource server
const SERVICE = TEST_CLIENTS.service; // marked gatehouse_resource_server in the test clients
/** Confidential, with a secret, but not marked: the kind of client the old policy let through. */
const PARTNER_APP = {
  client_id: 'partner-app',
  client_secret: 'partner-app-secret-0123456789',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

describe('POST /introspect: whose tokens a client may see', () => {
  let gh: RunningGatehouse;
  let webAccessToken: string;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: { clients: [...Object.values(TEST_CLIENTS), PARTNER_APP], deviceFlow: FAST_DEVICE_FLOW },
    });
    const { code, verifier } = await obtainCode(gh.issuer);
    webAccessToken = (await redeemCode(gh.issuer, code, verifier)).body.access_token!;
  });
  afterAll(() => gh?.stop());

  const introspect = async (client: ClientCredentials, token: string, method: 'basic' | 'post' = 'basic') =>
    postAsClient(gh.issuer, '/introspect', client, { token }, method);

  it('shows a client its own token', async () => {
    const res = await introspect(WEB, webAccessToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, client_id: 'web-app', sub: 'alice-0001' });
  });

  it.each([
    ['a confidential client with a secret (client_secret_basic)', PARTNER_APP, 'basic'],
    ['a confidential client authenticating with client_secret_post', POST, 'post'],
  ] as const)(
    'answers %s exactly {"active":false} for another client’s token',
    async (_what, client, method) => {
      const res = await introspect(client, webAccessToken, method);
      expect(res).toEqual({ status: 200, body: { active: false } });
    },
  );

  it('shows a client the operator marked as a resource server another client’s token', async () => {
    const res = await introspect(SERVICE, webAccessToken);
    expect(res.body).toMatchObject({
      active: true,
      client_id: 'web-app',
      sub: 'alice-0001',
      scope: 'openid email',
    });
  });

  it('shows a non-resource-server client its own tokens (client credentials)', async () => {
    const issued = await postAsClient(gh.issuer, '/token', PARTNER_APP, { grant_type: 'client_credentials' });
    expect(issued.status).toBe(200);
    expect((await introspect(PARTNER_APP, issued.body.access_token!)).body).toMatchObject({
      active: true,
      client_id: 'partner-app',
    });
    // …and the resource server sees it too, while another plain client does not.
    expect((await introspect(SERVICE, issued.body.access_token!)).body.active).toBe(true);
    expect((await introspect(POST, issued.body.access_token!, 'post')).body).toEqual({ active: false });
  });

  describe('a client registered anonymously through the AWS API', () => {
    it('sees {"active":false} for another client’s token, and its own token active', async () => {
      const aws = await registerAwsClient(gh.issuer);
      expect(await introspect(aws, webAccessToken, 'post')).toEqual({ status: 200, body: { active: false } });
      const own = await awsDeviceAccessToken(gh.issuer, aws);
      expect((await introspect(aws, own, 'post')).body).toMatchObject({
        active: true,
        client_id: aws.client_id,
      });
    });

    it('gains nothing by asking to be a resource server in RegisterClient', async () => {
      const aws = await registerAwsClient(gh.issuer, { gatehouse_resource_server: true });
      expect(aws.status).toBe(200);
      expect(await introspect(aws, webAccessToken, 'post')).toEqual({ status: 200, body: { active: false } });
    });

    it('cannot be loaded at all if its stored record claims resource-server rights', async () => {
      const aws = await registerAwsClient(gh.issuer);
      const clients = gh.store.adapter('Client');
      const stored = (await clients.find(aws.client_id))!;
      await clients.upsert(aws.client_id, { ...stored, gatehouse_resource_server: true }, 3600);
      // oidc-provider validates a stored client whenever it loads it: the record is refused.
      const res = await introspect(aws, webAccessToken, 'post');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_client_metadata' });
      expect(res.body).not.toHaveProperty('active');
    });
  });
});

describe('gatehouse_resource_server in the configuration', () => {
  it('is refused at start-up for a public client, naming the key', async () => {
    await expect(
      startTestGatehouse({
        overrides: {
          clients: [{ ...TEST_CLIENTS.spa, gatehouse_resource_server: true }],
        },
      }),
    ).rejects.toThrow(/clients\.0\.gatehouse_resource_server: a public client/);
  });

  it('must be a boolean', async () => {
    await expect(
      startTestGatehouse({
        overrides: { clients: [{ ...SERVICE, gatehouse_resource_server: 'yes' }] },
      }),
    ).rejects.toThrow(/clients\.0\.gatehouse_resource_server/);
  });
});
