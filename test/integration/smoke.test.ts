import * as client from 'openid-client';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, signIn } from '../support/browserless.js';
import type { RunningGatehouse } from '../../src/gatehouse.js';

describe('smoke: confidential code flow', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh.stop());

  it('signs alice in and redeems the code', async () => {
    const config = await client.discovery(
      new URL(gh.issuer),
      TEST_CLIENTS.web.client_id,
      TEST_CLIENTS.web.client_secret,
      client.ClientSecretBasic(TEST_CLIENTS.web.client_secret), // web-app's registered method
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
      scope: 'openid email',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new UserAgent(gh.issuer), url.href, TEST_USERS.alice);
    expect(callback.searchParams.get('state')).toBe(state);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    expect(tokens.claims()?.sub).toBe('alice-0001');
    const info = await client.fetchUserInfo(config, tokens.access_token, 'alice-0001');
    expect(info).toEqual({ sub: 'alice-0001', email: 'alice@example.com', email_verified: true });
  });
});
