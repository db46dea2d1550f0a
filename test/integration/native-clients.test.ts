import { createHash, randomBytes } from 'node:crypto';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, signIn } from '../support/browserless.js';

const NATIVE = {
  client_id: 'desktop-app',
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code'],
};

describe('native clients and loopback redirect URIs (RFC 8252 §7.3)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { clients: [...Object.values(TEST_CLIENTS), NATIVE] } });
  });
  afterAll(() => gh?.stop());

  const authorize = (redirectUri: string, verifier: string) =>
    `${gh.issuer}/authorize?${new URLSearchParams({
      client_id: NATIVE.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 'st',
    })}`;

  it('accepts the registered loopback URI on any port, and redeems the code with that URI', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const redirectUri = 'http://127.0.0.1:51789/callback';
    const callback = await signIn(
      new UserAgent(gh.issuer),
      authorize(redirectUri, verifier),
      TEST_USERS.alice,
    );
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: NATIVE.client_id,
        code: callback.searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    });
    expect(res.status).toBe(200);
  });

  it('still refuses another path or host on the loopback interface', async () => {
    for (const uri of ['http://127.0.0.1:51789/other', 'http://localhost.example.com:51789/callback']) {
      const res = await fetch(authorize(uri, 'v'.repeat(43)), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });
});
