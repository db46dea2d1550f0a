import { createHash, randomBytes } from 'node:crypto';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
  InvalidClientException,
  InvalidClientMetadataException,
  InvalidGrantException,
  InvalidRedirectUriException,
  UnsupportedGrantTypeException,
  type RegisterClientCommandInput,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { loadConfig } from '../../src/config/load-config.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, signIn } from '../support/browserless.js';
import { approveDevice } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: anonymous callers of the AWS API's RegisterClient. Anyone can register a
 * client, so such a client must not be usable for consent phishing (a trusted-looking name, a
 * redirect URI off the user's machine, codes redeemable without PKCE), nor to fill the store,
 * nor to gain rights only an operator should grant.
 */

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const START_URL = 'https://d-0000000000.awsapps.com/start';

const sdk = (gh: RunningGatehouse) =>
  new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc`, maxAttempts: 1 });

const rawRegister = (gh: RunningGatehouse, body: unknown) =>
  fetch(`${gh.issuer}/aws/oidc/client/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const codeFlow = (input: Partial<RegisterClientCommandInput> = {}): RegisterClientCommandInput => ({
  clientName: 'cli',
  clientType: 'public',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: ['http://127.0.0.1/oauth/callback'],
  ...input,
});

function authorizeUrl(
  gh: RunningGatehouse,
  clientId: string,
  redirectUri: string,
  verifier: string | undefined,
  path = '/authorize',
) {
  const url = new URL(`${gh.issuer}${path}`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid sso:account:access',
    state: 'st',
    ...(verifier
      ? {
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        }
      : {}),
  }).toString();
  return url.href;
}

describe('POST /aws/oidc/client/register (anonymous RegisterClient)', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
    sso = sdk(gh);
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  describe('redirect URIs', () => {
    it.each([
      ['an https URI', 'https://evil.example.com/cb'],
      ['a custom scheme', 'com.evil.app:/cb'],
      ['localhost (RFC 8252 §8.3)', 'http://localhost:8080/cb'],
      ['a host that starts like 127.0.0.1', 'http://127.0.0.1.evil.example/cb'],
      ['credentials before another host', 'http://127.0.0.1@evil.example/cb'],
      ['a decimal form of 127.0.0.1', 'http://2130706433/cb'],
      ['a hexadecimal form of 127.0.0.1', 'http://0x7f.1/cb'],
      ['a fragment', 'http://127.0.0.1/cb#x'],
      ['dot segments', 'http://127.0.0.1/ok/../cb'],
      ['https on loopback', 'https://127.0.0.1/cb'],
      ['javascript:', 'javascript:alert(1)'],
      ['not a URI', 'not a uri'],
    ])('refuses %s with InvalidRedirectUriException', async (_label, uri) => {
      const err = await sso
        .send(new RegisterClientCommand(codeFlow({ redirectUris: [uri] })))
        .catch((e) => e);
      expect(err).toBeInstanceOf(InvalidRedirectUriException);
    });

    it('refuses a bad URI even next to a good one, and even without the authorization_code grant', async () => {
      await expect(
        sso.send(
          new RegisterClientCommand(
            codeFlow({ redirectUris: ['http://127.0.0.1/cb', 'https://evil.example.com/cb'] }),
          ),
        ),
      ).rejects.toBeInstanceOf(InvalidRedirectUriException);
      await expect(
        sso.send(
          new RegisterClientCommand({
            clientName: 'x',
            clientType: 'public',
            redirectUris: ['https://evil.example.com/cb'],
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidRedirectUriException);
    });

    it.each(['http://127.0.0.1/oauth/callback', 'http://127.0.0.1:8400/cb', 'http://[::1]:8400/cb'])(
      'accepts the loopback URI %s',
      async (uri) => {
        const out = await sso.send(new RegisterClientCommand(codeFlow({ redirectUris: [uri] })));
        expect(out.clientId).toEqual(expect.any(String));
      },
    );
  });

  describe('client names', () => {
    it.each([
      ['U+202E right-to-left override', 'Gatehouse \u202Eeciffo'],
      ['U+2066 left-to-right isolate', 'AWS \u2066CLI'],
      ['U+200E left-to-right mark', 'AWS\u200E CLI'],
      ['U+061C Arabic letter mark', 'AWS\u061C CLI'],
      ['U+200B zero-width space', 'A\u200BWS CLI'],
      ['U+2060 word joiner', 'AWS\u2060CLI'],
      ['U+FEFF zero-width no-break space', '\uFEFFAWS CLI'],
      ['a C0 control (BEL)', 'AWS\u0007 CLI'],
      ['an ANSI escape', 'AWS \u001b[31mCLI'],
      ['a C1 control (CSI)', 'AWS \u009B31m CLI'],
      ['DEL', 'AWS\u007F CLI'],
      ['a newline', 'AWS CLI\nOfficial'],
      ['an unpaired surrogate', 'AWS \uD800 CLI'],
      ['129 characters', 'n'.repeat(129)],
      ['60 KB', 'n'.repeat(60_000)],
      ['only spaces', '   '],
    ])('refuses a name with %s with InvalidClientMetadataException', async (_label, clientName) => {
      const res = await rawRegister(gh, { clientName, clientType: 'public' });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('InvalidClientMetadataException');
      const body = await res.json();
      expect(body).toEqual({
        error: 'invalid_client_metadata',
        error_description: expect.stringMatching(/clientName/),
        message: expect.stringMatching(/clientName/),
      });
    });

    it('accepts 128 characters, accents and emoji', async () => {
      for (const clientName of ['n'.repeat(128), 'Équipe données 🚀', '🚀'.repeat(128)]) {
        const out = await sso.send(new RegisterClientCommand({ clientName, clientType: 'public' }));
        expect(out.clientId).toEqual(expect.any(String));
      }
    });
  });

  describe('other members are bounded', () => {
    it.each([
      ['11 redirect URIs', { redirectUris: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1/${i}`) }],
      ['a 3000-character redirect URI', { redirectUris: [`http://127.0.0.1/${'a'.repeat(3000)}`] }],
      ['26 scopes', { scopes: Array.from({ length: 26 }, () => 'openid') }],
      ['a 300-character scope', { scopes: ['s'.repeat(300)] }],
      ['7 grant types', { grantTypes: Array.from({ length: 7 }, () => 'refresh_token') }],
      ['a 3000-character issuerUrl', { issuerUrl: `https://${'a'.repeat(3000)}.example` }],
      ['a 3000-character entitledApplicationArn', { entitledApplicationArn: 'a'.repeat(3000) }],
    ])('refuses %s with InvalidClientMetadataException', async (_label, extra) => {
      const err = await sso.send(new RegisterClientCommand(codeFlow(extra))).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidClientMetadataException);
    });
  });

  describe('no operator-only rights', () => {
    it.each([
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'password',
      'implicit',
    ])('refuses to register the %s grant', async (grant) => {
      const err = await sso
        .send(new RegisterClientCommand({ clientName: 'x', clientType: 'public', grantTypes: [grant] }))
        .catch((e) => e);
      expect(err).toBeInstanceOf(UnsupportedGrantTypeException);
    });

    it.each([
      ['client_credentials', {}],
      [
        'urn:ietf:params:oauth:grant-type:token-exchange',
        {
          subject_token: 'x',
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        },
      ],
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion: 'x.y.z' }],
    ])('a registered client is refused the %s grant at /token', async (grant, extra) => {
      const client = await sso.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' }));
      const res = await fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: grant,
          client_id: client.clientId!,
          client_secret: client.clientSecret!,
          ...extra,
        }).toString(),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe('unauthorized_client');
    });
  });

  describe('PKCE is required', () => {
    it.each(['/authorize', '/aws/oidc/authorize'])(
      '%s without a code_challenge sends the user back with invalid_request, not a code',
      async (path) => {
        const client = await sso.send(new RegisterClientCommand(codeFlow()));
        const redirectUri = 'http://127.0.0.1:41000/oauth/callback';
        const { res, url } = await new UserAgent(gh.issuer).follow(
          authorizeUrl(gh, client.clientId!, redirectUri, undefined, path),
        );
        expect(res.status).toBe(303);
        const callback = new URL(url);
        expect(callback.origin).toBe('http://127.0.0.1:41000');
        expect(callback.searchParams.get('code')).toBeNull();
        expect(callback.searchParams.get('error')).toBe('invalid_request');
        expect(callback.searchParams.get('error_description')).toMatch(/PKCE/);
      },
    );

    it('a code is not redeemed without its verifier, at /aws/oidc/token nor at /token', async () => {
      const client = await sso.send(new RegisterClientCommand(codeFlow()));
      const verifier = randomBytes(32).toString('base64url');
      const redirectUri = 'http://127.0.0.1:41001/oauth/callback';
      const ua = new UserAgent(gh.issuer);
      const first = await signIn(
        ua,
        authorizeUrl(gh, client.clientId!, redirectUri, verifier),
        TEST_USERS.alice,
      );
      const code = first.searchParams.get('code')!;
      const err = await sso
        .send(
          new CreateTokenCommand({
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            grantType: 'authorization_code',
            code,
            redirectUri,
          }),
        )
        .catch((e) => e);
      expect(err).toBeInstanceOf(InvalidGrantException);

      const second = await signIn(
        ua,
        authorizeUrl(gh, client.clientId!, redirectUri, verifier),
        TEST_USERS.alice,
      );
      const res = await fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: client.clientId!,
          client_secret: client.clientSecret!,
          code: second.searchParams.get('code')!,
          redirect_uri: redirectUri,
        }).toString(),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe('invalid_grant');

      // With the verifier, the same flow works (the AWS CLI's path).
      const third = await signIn(
        ua,
        authorizeUrl(gh, client.clientId!, redirectUri, verifier),
        TEST_USERS.alice,
      );
      const tokens = await sso.send(
        new CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          grantType: 'authorization_code',
          code: third.searchParams.get('code')!,
          redirectUri,
          codeVerifier: verifier,
        }),
      );
      expect(tokens.accessToken).toEqual(expect.any(String));
    });
  });

  it('answers clientSecretExpiresAt at the end of the full registration lifetime', async () => {
    const out = await sso.send(new RegisterClientCommand({ clientName: 'cli', clientType: 'public' }));
    expect(out.clientSecretExpiresAt! - out.clientIdIssuedAt!).toBe(7776000);
  });
});

describe('aws.allowedRedirectUris', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        aws: { allowedRedirectUris: ['https://app.example.com/callback', 'com.example.app:'] },
      },
    });
    sso = sdk(gh);
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  it.each([
    'https://app.example.com/callback',
    'https://app.example.com/callback/more',
    'https://app.example.com/callback?x=1',
    'com.example.app:/oauth2redirect',
    'http://127.0.0.1/oauth/callback',
  ])('accepts %s', async (uri) => {
    const out = await sso.send(new RegisterClientCommand(codeFlow({ redirectUris: [uri] })));
    expect(out.clientId).toEqual(expect.any(String));
  });

  it.each([
    'https://app.example.com/callbacks',
    'https://app.example.com.evil.example/callback',
    'https://app.example.com/other',
    'http://app.example.com/callback',
    'com.example.apps:/cb',
    'com.evil.app:/cb',
  ])('refuses %s', async (uri) => {
    const err = await sso.send(new RegisterClientCommand(codeFlow({ redirectUris: [uri] }))).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidRedirectUriException);
  });

  it.each([
    ['an http prefix', 'http://app.example.com/cb'],
    ['a scheme without a dot', 'javascript:'],
    ['https as a scheme', 'https:'],
    ['a prefix with a query', 'https://app.example.com/cb?x=1'],
    ['a non-canonical prefix', 'https://APP.example.com/cb'],
    ['junk', 'not a url'],
  ])('refuses %s at start-up, naming the key', (_label, entry) => {
    expect(() =>
      loadConfig({ env: { NODE_ENV: 'test' }, overrides: { aws: { allowedRedirectUris: [entry] } } }),
    ).toThrow(/aws\.allowedRedirectUris\.0/);
  });
});

describe.each(['memory', 'redis'])('anonymous registrations cannot fill the store (%s store)', (store) => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = store === 'redis' ? await startRedisServer() : undefined;
    gh = await startTestGatehouse({
      overrides: {
        deviceFlow: FAST_DEVICE_FLOW,
        aws: { maxRegistrationsPerHour: 4, unusedRegistrationLifetimeSeconds: 2 },
      },
      ...(redis ? { env: { REDIS_URL: redis.url } } : {}),
    });
    sso = sdk(gh);
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
    await redis?.stop();
  });

  it('forgets a registration nobody used, keeps one that obtained a token, then caps registrations globally', async () => {
    const unused = await sso.send(new RegisterClientCommand({ clientName: 'unused', clientType: 'public' }));
    const used = await sso.send(
      new RegisterClientCommand({ clientName: 'used', clientType: 'public', scopes: ['sso:account:access'] }),
    );
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: used.clientId,
        clientSecret: used.clientSecret,
        startUrl: START_URL,
      }),
    );
    await approveDevice(gh.issuer, auth.verificationUriComplete!);
    const tokens = await sso.send(
      new CreateTokenCommand({
        clientId: used.clientId,
        clientSecret: used.clientSecret,
        grantType: DEVICE,
        deviceCode: auth.deviceCode,
      }),
    );
    expect(tokens.refreshToken).toEqual(expect.any(String));

    await new Promise((resolve) => setTimeout(resolve, 2500));
    await expect(
      sso.send(
        new StartDeviceAuthorizationCommand({
          clientId: unused.clientId,
          clientSecret: unused.clientSecret,
          startUrl: START_URL,
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidClientException);
    const refreshed = await sso.send(
      new CreateTokenCommand({
        clientId: used.clientId,
        clientSecret: used.clientSecret,
        grantType: 'refresh_token',
        refreshToken: tokens.refreshToken,
      }),
    );
    expect(refreshed.accessToken).toEqual(expect.any(String));

    // Invalid requests do not use up the budget; valid ones do (2 used above, 2 left).
    for (let i = 0; i < 5; i += 1) {
      expect((await rawRegister(gh, { clientName: 'x\u202E', clientType: 'public' })).status).toBe(400);
    }
    for (let i = 0; i < 2; i += 1) {
      expect((await rawRegister(gh, { clientName: 'ok', clientType: 'public' })).status).toBe(200);
    }
    const refused = await rawRegister(gh, { clientName: 'one too many', clientType: 'public' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-amzn-errortype')).toBe('SlowDownException');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await refused.json()).error).toBe('slow_down');

    const metrics = await (await fetch(`${gh.issuer}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_aws_registrations_refused_total\{[^}]*reason="global"[^}]*\} 1/);
  });
});

describe('the first token at the standard /token', () => {
  it('keeps the registration that obtained it', async () => {
    const other = await startTestGatehouse({ overrides: { aws: { unusedRegistrationLifetimeSeconds: 2 } } });
    const client = sdk(other);
    try {
      // Registered scopes (as an sso-session registers them): the client gets refresh tokens, as at AWS.
      const reg = await client.send(
        new RegisterClientCommand(codeFlow({ scopes: ['openid', 'sso:account:access'] })),
      );
      const verifier = randomBytes(32).toString('base64url');
      const redirectUri = 'http://127.0.0.1:41002/oauth/callback';
      const callback = await signIn(
        new UserAgent(other.issuer),
        authorizeUrl(other, reg.clientId!, redirectUri, verifier),
        TEST_USERS.alice,
      );
      const token = (body: Record<string, string>) =>
        fetch(`${other.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: reg.clientId!, client_secret: reg.clientSecret!, ...body }),
        });
      const first = await token({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      const firstBody = (await first.json()) as { refresh_token: string };
      expect([first.status, firstBody]).toEqual([
        200,
        expect.objectContaining({ refresh_token: expect.any(String) }),
      ]);
      const refreshToken = firstBody.refresh_token;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const second = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(second.status).toBe(200);
    } finally {
      client.destroy();
      await other.stop();
    }
  });
});
