import { UnauthorizedClientException } from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import {
  createPartnerIssuer,
  JWT_BEARER,
  postAsClient,
  registerAwsClient,
  userinfo,
  createTokenWithIamOutcome,
  IAM_KEY,
} from '../support/grant-requests.js';

/**
 * Trust boundary: the JWT bearer grant (RFC 7523). An assertion is a bearer credential for a
 * user; whoever captures one must not be able to use it again, or to use one made to last.
 * oidc-provider answers every refused grant with the same `invalid_grant` description (the
 * reason is not disclosed), so each refusal below differs from an accepted assertion in the one
 * claim under test: `sign` makes well-formed assertions, as the first test shows.
 */

const BROKER = {
  client_id: 'broker',
  client_secret: 'broker-secret-0123456789',
  grant_types: [JWT_BEARER],
  redirect_uris: [],
  response_types: [],
};
const OTHER_BROKER = {
  ...BROKER,
  client_id: 'other-broker',
  client_secret: 'other-broker-secret-0123456789',
};

type Partner = Awaited<ReturnType<typeof createPartnerIssuer>>;
const ALICE = { sub: 'partner-user-9', email: 'alice@example.com' };

describe('jwt-bearer assertions (RFC 7523)', () => {
  let gh: RunningGatehouse;
  let partner: Partner;
  beforeAll(async () => {
    partner = await createPartnerIssuer();
    gh = await startTestGatehouse({
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), BROKER, OTHER_BROKER],
        trustedIssuers: [partner.trusted],
        aws: {
          enabled: true,
          registrationLifetimeSeconds: 3600,
          defaultScopes: ['sso:account:access'],
          iamAccessKeys: [IAM_KEY],
        },
      },
    });
  });
  afterAll(() => gh?.stop());

  const bearer = async (assertion: string, client = BROKER) =>
    postAsClient(gh.issuer, '/token', client, { grant_type: JWT_BEARER, assertion, scope: 'openid email' });
  const aud = () => ({ ...ALICE, aud: gh.issuer });

  it('accepts a well-formed assertion (jti, iat, exp five minutes later) once', async () => {
    const res = await bearer(await partner.sign(aud()));
    expect(res.status).toBe(200);
    expect((await userinfo(gh.issuer, res.body.access_token!)).body).toMatchObject({ sub: 'alice-0001' });
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ['without jti', () => ({ jti: null })],
    ['without iat', () => ({ iat: null, exp: now() + 300 })],
    ['without exp', () => ({ exp: null })],
    [
      'made to live ten minutes (exp - iat > assertions.maxLifetimeSeconds)',
      () => ({ iat: now(), exp: now() + 600 }),
    ],
    ['issued in the future, beyond the clock skew', () => ({ iat: now() + 120, exp: now() + 240 })],
  ] as const)('refuses an assertion %s (invalid_grant)', async (_what, options) => {
    const res = await bearer(await partner.sign(aud(), options()));
    expect(res).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
    });
  });

  it('refuses a replayed assertion (the same jti), from the same or another client', async () => {
    const assertion = await partner.sign(aud());
    expect((await bearer(assertion)).status).toBe(200);
    expect((await bearer(assertion)).body.error).toBe('invalid_grant');
    expect((await bearer(assertion, OTHER_BROKER)).body.error).toBe('invalid_grant');
    // Another assertion reusing the jti is refused too: the (iss, jti) pair is what is remembered.
    const { jti } = JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()) as {
      jti: string;
    };
    expect((await bearer(await partner.sign({ ...aud(), nonce: 'other' }, { jti }))).body.error).toBe(
      'invalid_grant',
    );
    // …while a fresh jti still works.
    expect((await bearer(await partner.sign(aud()), OTHER_BROKER)).status).toBe(200);
  });

  it('refuses an assertion not meant for Gatehouse (aud) and one signed by another key', async () => {
    expect(
      (await bearer(await partner.sign({ ...ALICE, aud: 'https://elsewhere.example.com' }))).body.error,
    ).toBe('invalid_grant');
    const other = await createPartnerIssuer(partner.issuer);
    expect((await bearer(await other.sign(aud()))).body.error).toBe('invalid_grant');
  });

  describe('a client registered anonymously through the AWS API', () => {
    it('is refused the grant at /token (unauthorized_client), even with a valid assertion', async () => {
      const aws = await registerAwsClient(gh.issuer);
      const res = await postAsClient(
        gh.issuer,
        '/token',
        aws,
        { grant_type: JWT_BEARER, assertion: await partner.sign(aud()) },
        'post',
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unauthorized_client');
    });

    it('cannot register for the grant', async () => {
      const res = await registerAwsClient(gh.issuer, { grantTypes: [JWT_BEARER] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unsupported_grant_type');
    });

    it('is refused the grant through CreateTokenWithIAM (UnauthorizedClientException)', async () => {
      const aws = await registerAwsClient(gh.issuer);
      const err = await createTokenWithIamOutcome(gh.issuer, {
        clientId: aws.client_id,
        grantType: JWT_BEARER,
        assertion: await partner.sign(aud()),
      });
      expect(err).toBeInstanceOf(UnauthorizedClientException);
    });
  });
});

describe('jwt-bearer replay across two instances sharing one Redis', () => {
  let redis: RedisServer;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  let partner: Partner;
  // Each instance has its own issuer (its own port); both accept this audience.
  const AUDIENCE = 'https://gatehouse.example.com';
  beforeAll(async () => {
    redis = await startRedisServer();
    partner = await createPartnerIssuer();
    const options = {
      env: { REDIS_URL: redis.url },
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), BROKER],
        trustedIssuers: [{ ...partner.trusted, audience: [AUDIENCE] }],
      },
    };
    a = await startTestGatehouse(options);
    b = await startTestGatehouse(options);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.destroy();
  });

  const bearer = (gh: RunningGatehouse, assertion: string) =>
    postAsClient(gh.issuer, '/token', BROKER, { grant_type: JWT_BEARER, assertion });

  it('refuses at the second instance an assertion the first one accepted', async () => {
    const assertion = await partner.sign({ ...ALICE, aud: AUDIENCE });
    expect((await bearer(a, assertion)).status).toBe(200);
    const replay = await bearer(b, assertion);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    // The second instance itself works: a fresh assertion is accepted there.
    expect((await bearer(b, await partner.sign({ ...ALICE, aud: AUDIENCE }))).status).toBe(200);
  });
});
