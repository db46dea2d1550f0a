import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  AuthorizationPendingException,
  SlowDownException,
  InvalidClientException,
  InvalidRequestException,
  AccessDeniedException,
  ExpiredTokenException,
  InvalidGrantException,
  UnsupportedGrantTypeException,
  InvalidScopeException,
  InvalidClientMetadataException,
  InvalidRedirectUriException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse } from '../support/gatehouse.js';
import { approveDevice } from '../support/flows.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';

describe('AWS SSO OIDC API through @aws-sdk/client-sso-oidc', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        deviceFlow: FAST_DEVICE_FLOW,
      },
    });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  const register = () => sso.send(new RegisterClientCommand({ clientName: 'cli', clientType: 'public' }));

  describe('RegisterClient', () => {
    it('registers a public client with device-code and refresh grants by default', async () => {
      const before = Math.floor(Date.now() / 1000);
      const out = await register();
      expect(out.clientId).toEqual(expect.any(String));
      expect(out.clientSecret).toEqual(expect.any(String));
      expect(out.clientIdIssuedAt).toBeGreaterThanOrEqual(before);
      expect(out.clientSecretExpiresAt! - out.clientIdIssuedAt!).toBe(90 * 24 * 3600);
      expect(out.authorizationEndpoint).toBe(`${gh.issuer}/aws/oidc/authorize`);
      expect(out.tokenEndpoint).toBe(`${gh.issuer}/aws/oidc/token`);
    });

    it('refuses a client type other than public with InvalidClientMetadataException', async () => {
      await expect(
        sso.send(new RegisterClientCommand({ clientName: 'x', clientType: 'confidential' })),
      ).rejects.toBeInstanceOf(InvalidClientMetadataException);
    });

    it('refuses unknown scopes, grant types and bad redirect URIs with the model’s exceptions', async () => {
      await expect(
        sso.send(
          new RegisterClientCommand({ clientName: 'x', clientType: 'public', scopes: ['no:such:scope'] }),
        ),
      ).rejects.toBeInstanceOf(InvalidScopeException);
      await expect(
        sso.send(
          new RegisterClientCommand({ clientName: 'x', clientType: 'public', grantTypes: ['password'] }),
        ),
      ).rejects.toBeInstanceOf(UnsupportedGrantTypeException);
      await expect(
        sso.send(
          new RegisterClientCommand({
            clientName: 'x',
            clientType: 'public',
            grantTypes: ['authorization_code'],
            redirectUris: ['not a uri'],
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidRedirectUriException);
    });

    it('answers a missing required member with InvalidRequestException', async () => {
      await expect(sso.send(new RegisterClientCommand({ clientName: 'x' } as never))).rejects.toBeInstanceOf(
        InvalidRequestException,
      );
    });
  });

  describe('device flow', () => {
    it('approves on the /device page and issues tokens that work at /userinfo and /introspect, then rotates on refresh', async () => {
      // Registered scopes, as an AWS CLI sso-session registers them: AWS gives such clients refresh tokens.
      const client = await sso.send(
        new RegisterClientCommand({
          clientName: 'cli',
          clientType: 'public',
          scopes: ['sso:account:access'],
        }),
      );
      const auth = await sso.send(
        new StartDeviceAuthorizationCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          startUrl: START_URL,
        }),
      );
      expect(auth).toMatchObject({
        deviceCode: expect.any(String),
        userCode: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/),
        verificationUri: `${gh.issuer}/device`,
        verificationUriComplete: expect.stringContaining(`${gh.issuer}/device?user_code=`),
        expiresIn: 600,
        interval: 1,
      });
      const poll = () =>
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: DEVICE,
            deviceCode: auth.deviceCode,
          }),
        );
      // botocore's pair (one poll before the prompt, one as its loop starts) is never too fast; a third is.
      await expect(poll()).rejects.toBeInstanceOf(AuthorizationPendingException);
      await expect(poll()).rejects.toBeInstanceOf(AuthorizationPendingException);
      await expect(poll()).rejects.toBeInstanceOf(SlowDownException);

      expect(await approveDevice(gh.issuer, auth.verificationUriComplete!)).toContain('Device connected');
      await new Promise((r) => setTimeout(r, 6100)); // the interval grew to 6 s after slow_down
      const tokens = await poll();
      expect(tokens).toMatchObject({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: 3600,
        refreshToken: expect.any(String),
      });

      const introspection = await fetch(`${gh.issuer}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: tokens.accessToken!,
          client_id: client.clientId!,
          client_secret: client.clientSecret!,
        }),
      }).then((r) => r.json());
      expect(introspection).toMatchObject({
        active: true,
        sub: 'alice-0001',
        client_id: client.clientId,
        scope: 'sso:account:access',
      });

      const refreshed = await sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: 'refresh_token',
          refreshToken: tokens.refreshToken,
        }),
      );
      expect(refreshed.refreshToken).toEqual(expect.any(String));
      expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);

      // Reusing the rotated refresh token revokes the grant.
      await expect(
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'refresh_token',
            refreshToken: tokens.refreshToken,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidGrantException);
      await expect(
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'refresh_token',
            refreshToken: refreshed.refreshToken,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidGrantException);
    }, 20_000);

    it('answers AccessDeniedException when the user denies', async () => {
      const client = await register();
      const auth = await sso.send(
        new StartDeviceAuthorizationCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          startUrl: START_URL,
        }),
      );
      await approveDevice(gh.issuer, auth.verificationUriComplete!, 'deny');
      await expect(
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: DEVICE,
            deviceCode: auth.deviceCode,
          }),
        ),
      ).rejects.toBeInstanceOf(AccessDeniedException);
    });

    it('answers InvalidClientException for a wrong client secret, with status 401', async () => {
      const client = await register();
      const err = await sso
        .send(
          new StartDeviceAuthorizationCommand({
            clientId: client.clientId,
            clientSecret: 'wrong',
            startUrl: START_URL,
          }),
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidClientException);
      expect((err as InvalidClientException).$metadata.httpStatusCode).toBe(401);
      expect((err as InvalidClientException).error).toBe('invalid_client');
    });

    it('answers UnsupportedGrantTypeException for an unknown grant type', async () => {
      const client = await register();
      await expect(
        sso.send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'password',
          }),
        ),
      ).rejects.toBeInstanceOf(UnsupportedGrantTypeException);
    });
  });
});

describe('AWS device codes expire', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    const ttl = {
      accessToken: 3600,
      authorizationCode: 60,
      clientCredentials: 600,
      deviceCode: 1,
      idToken: 3600,
      refreshToken: 1209600,
      interaction: 3600,
      session: 1209600,
      grant: 1209600,
    };
    gh = await startTestGatehouse({ overrides: { ttl } });
  });
  afterAll(() => gh?.stop());

  it('answers ExpiredTokenException once the device code has expired', async () => {
    const sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
    const client = await sso.send(new RegisterClientCommand({ clientName: 'cli', clientType: 'public' }));
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: START_URL,
      }),
    );
    await new Promise((r) => setTimeout(r, 2100));
    await expect(
      sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: DEVICE,
          deviceCode: auth.deviceCode,
        }),
      ),
    ).rejects.toBeInstanceOf(ExpiredTokenException);
    sso.destroy();
  });
});
