import { createHash, randomBytes } from 'node:crypto';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  CreateTokenCommand,
  CreateTokenWithIAMCommand,
  AccessDeniedException,
  InvalidGrantException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, signIn } from '../support/browserless.js';
import { obtainCode } from '../support/flows.js';

const IAM_KEY = {
  accessKeyId: 'AKIAGATEHOUSETEST01',
  secretAccessKey: 'gatehouse-test-secret-access-key-0123',
};

describe('aws sso login with an sso-session (authorization code with PKCE, as AWS CLI v2 does it)', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        aws: {
          enabled: true,
          registrationLifetimeSeconds: 7776000,
          defaultScopes: ['sso:account:access'],
          iamAccessKeys: [IAM_KEY],
        },
      },
    });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  it.each([
    ['/authorize', '+'],
    ['/aws/oidc/authorize', '%20'],
  ])(
    'signs in through %s with scopes joined by %s, returns to a loopback port, and CreateToken redeems the code',
    async (path, joiner) => {
      const client = await sso.send(
        new RegisterClientCommand({
          clientName: 'botocore-client-my-sso',
          clientType: 'public',
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: ['http://127.0.0.1/oauth/callback'],
          issuerUrl: 'https://identitycenter.amazonaws.com/ssoins-0000000000000000',
          scopes: ['sso:account:access', 'openid'],
        }),
      );
      const verifier = randomBytes(48).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      const port = 40000 + Math.floor(Math.random() * 20000);
      const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
      // The CLI keeps only the endpoint's scheme and host and writes the query itself.
      const url =
        `${gh.issuer}${path}?response_type=code&client_id=${encodeURIComponent(client.clientId!)}` +
        `&redirect_uri=${encodeURIComponent(redirectUri)}&state=${state}&code_challenge_method=S256` +
        `&scopes=sso%3Aaccount%3Aaccess${joiner}openid&code_challenge=${createHash('sha256').update(verifier).digest('base64url')}`;
      const callback = await signIn(new UserAgent(gh.issuer), url, TEST_USERS.alice);
      expect(callback.origin).toBe(`http://127.0.0.1:${port}`);
      expect(callback.pathname).toBe('/oauth/callback');
      expect(callback.searchParams.get('state')).toBe(state);

      const tokens = await sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: 'authorization_code',
          code: callback.searchParams.get('code')!,
          redirectUri,
          codeVerifier: verifier,
        }),
      );
      expect(tokens).toMatchObject({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        refreshToken: expect.any(String),
        idToken: expect.any(String),
      });

      const info = await fetch(`${gh.issuer}/userinfo`, {
        headers: { authorization: `Bearer ${tokens.accessToken}` },
      });
      expect((await info.json()).sub).toBe('alice-0001');

      // A second redemption of the same code is refused.
      await expect(
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'authorization_code',
            code: callback.searchParams.get('code')!,
            redirectUri,
            codeVerifier: verifier,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidGrantException);
    },
  );

  describe('CreateTokenWithIAM', () => {
    it('accepts a correctly signed request and redeems a code for a configured client', async () => {
      const iam = new SSOOIDCClient({
        region: 'us-east-1',
        endpoint: `${gh.issuer}/aws/oidc`,
        credentials: IAM_KEY,
      });
      const { code, verifier } = await obtainCode(gh.issuer);
      const out = await iam.send(
        new CreateTokenWithIAMCommand({
          clientId: TEST_CLIENTS.web.client_id,
          grantType: 'authorization_code',
          code,
          redirectUri: TEST_CLIENTS.web.redirect_uris[0],
          codeVerifier: verifier,
        }),
      );
      expect(out).toMatchObject({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        idToken: expect.any(String),
        scope: ['openid', 'email'],
      });
      iam.destroy();
    });

    it('refuses a request signed with the wrong secret with AccessDeniedException', async () => {
      const iam = new SSOOIDCClient({
        region: 'us-east-1',
        endpoint: `${gh.issuer}/aws/oidc`,
        credentials: { accessKeyId: IAM_KEY.accessKeyId, secretAccessKey: 'not-the-right-secret-key-000000' },
      });
      const { code, verifier } = await obtainCode(gh.issuer);
      const err = await iam
        .send(
          new CreateTokenWithIAMCommand({
            clientId: TEST_CLIENTS.web.client_id,
            grantType: 'authorization_code',
            code,
            redirectUri: TEST_CLIENTS.web.redirect_uris[0],
            codeVerifier: verifier,
          }),
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AccessDeniedException);
      expect((err as AccessDeniedException).error_description).toBe('the request signature does not match');
      iam.destroy();
    });

    it('refuses an unsigned request with AccessDeniedException', async () => {
      const res = await fetch(`${gh.issuer}/aws/oidc/token?aws_iam=t`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: 'web-app', grantType: 'authorization_code' }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      expect(await res.json()).toEqual({
        error: 'access_denied',
        error_description: 'the request is not signed with AWS Signature Version 4',
        message: 'the request is not signed with AWS Signature Version 4',
      });
    });
  });
});
