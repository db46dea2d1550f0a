import { exportJWK, generateKeyPair } from 'jose';
import { ConfigError } from '../../src/config/load-config.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';

/**
 * A configured client under `"gatehouse_profile": "fapi2"` that breaks a FAPI 2.0 rule stops
 * start-up with a message naming the client and the rule; a compliant one starts.
 */
describe('configured FAPI 2.0 clients', () => {
  let jwks: { keys: Record<string, unknown>[] };
  beforeAll(async () => {
    const { publicKey } = await generateKeyPair('ES256');
    jwks = { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256' }] };
  });

  const fapiClient = (extra: Record<string, unknown> = {}) => ({
    client_id: 'bank-app',
    redirect_uris: ['https://bank.example.com/cb'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'PS256',
    gatehouse_profile: 'fapi2',
    jwks,
    ...extra,
  });

  /** The start-up error for `client` among the test clients (index 6). */
  async function startupError(client: Record<string, unknown>): Promise<string> {
    try {
      const gh = await startTestGatehouse({
        overrides: { clients: [...Object.values(TEST_CLIENTS), client] },
      });
      await gh.stop();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('Gatehouse started');
  }

  it('starts with a compliant client', async () => {
    const gh = await startTestGatehouse({
      overrides: { clients: [...Object.values(TEST_CLIENTS), fapiClient()] },
    });
    try {
      const client = await gh.provider.Client.find('bank-app');
      // What the profile implies is set on the client.
      expect(client?.metadata()).toMatchObject({
        require_pushed_authorization_requests: true,
        dpop_bound_access_tokens: true,
        response_modes: ['query'],
        id_token_signed_response_alg: 'ES256',
      });
    } finally {
      await gh.stop();
    }
  });

  it.each([
    [
      'a shared secret',
      { token_endpoint_auth_method: 'client_secret_basic', client_secret: 'bank-app-secret-0123456789' },
      'clients.6 (bank-app): gatehouse_profile "fapi2": token_endpoint_auth_method must be "private_key_jwt" (a FAPI 2.0 client is confidential)',
    ],
    [
      'a public client',
      { token_endpoint_auth_method: 'none' },
      'clients.6 (bank-app): gatehouse_profile "fapi2": token_endpoint_auth_method must be "private_key_jwt" (a FAPI 2.0 client is confidential)',
    ],
    [
      'RS256 client assertions',
      { token_endpoint_auth_signing_alg: 'RS256' },
      'clients.6 (bank-app): gatehouse_profile "fapi2": token_endpoint_auth_signing_alg must be one of ES256, PS256',
    ],
    [
      'no client assertion algorithm',
      { token_endpoint_auth_signing_alg: undefined },
      'clients.6 (bank-app): gatehouse_profile "fapi2": token_endpoint_auth_signing_alg must be one of ES256, PS256',
    ],
    [
      'an implicit response type',
      { response_types: ['code', 'code id_token'], grant_types: ['authorization_code', 'implicit'] },
      'clients.6 (bank-app): gatehouse_profile "fapi2": response_types must be ["code"]',
    ],
    [
      'a fragment response mode',
      { response_modes: ['query', 'fragment'] },
      'clients.6 (bank-app): gatehouse_profile "fapi2": response_modes must be ["query"]',
    ],
  ])('refuses %s', async (_what, extra, message) => {
    expect(await startupError(fapiClient(extra))).toBe(message);
  });

  it.each(['require_pushed_authorization_requests', 'dpop_bound_access_tokens'])(
    'refuses %s: false',
    async (key) => {
      expect(await startupError(fapiClient({ [key]: false }))).toBe(
        `invalid config:\n  clients.6.${key}: must not be false for a gatehouse_profile "fapi2" client (bank-app)`,
      );
    },
  );

  it('refuses RS256-signed ID tokens', async () => {
    expect(await startupError(fapiClient({ id_token_signed_response_alg: 'RS256' }))).toBe(
      'invalid config:\n  clients.6.id_token_signed_response_alg: must be ES256 for a gatehouse_profile "fapi2" client (bank-app)',
    );
  });

  it('refuses a profile it does not know', async () => {
    expect(await startupError(fapiClient({ gatehouse_profile: 'fapi1' }))).toBe(
      'invalid config:\n  clients.6.gatehouse_profile: Invalid input: expected "fapi2"',
    );
  });
});
