import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basicAuth, obtainCode, redeemCode } from '../support/flows.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const PARTNER = 'https://partner-idp.example.com';

const BROKER = {
  client_id: 'broker',
  client_secret: 'broker-secret-0123456789',
  grant_types: [JWT_BEARER, TOKEN_EXCHANGE],
  redirect_uris: [],
  response_types: [],
  // The operator lets the broker exchange tokens web-app obtained (RFC 8693 impersonation).
  gatehouse_may_exchange_from: ['web-app'],
};

describe('POST /token with assertion grants (RFC 7523, RFC 8693)', () => {
  let gh: RunningGatehouse;
  let partnerKey: CryptoKey;
  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    partnerKey = privateKey;
    gh = await startTestGatehouse({
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), BROKER],
        trustedIssuers: [
          {
            issuer: PARTNER,
            jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'p1', alg: 'ES256' }] },
            accountClaim: 'email',
          },
        ],
      },
    });
  });
  afterAll(() => gh?.stop());

  const token = async (params: Record<string, string>) => {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(BROKER.client_id, BROKER.client_secret),
      },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const assertion = (claims: Record<string, unknown>, aud = gh.issuer) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'p1' })
      .setIssuer(PARTNER)
      .setAudience(aud)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(partnerKey);
  const userinfo = (accessToken: string) =>
    fetch(`${gh.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }).then((r) =>
      r.json(),
    );

  it('advertises both grants in discovery', async () => {
    const meta = (await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining([JWT_BEARER, TOKEN_EXCHANGE]));
  });

  it('exchanges a trusted issuer’s JWT for an access token of the account it names', async () => {
    const jwt = await assertion({ sub: 'partner-user-9', email: 'alice@example.com' });
    const res = await token({ grant_type: JWT_BEARER, assertion: jwt, scope: 'openid email' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'openid email', expires_in: 3600 });
    expect(await userinfo(res.body.access_token!)).toEqual({
      sub: 'alice-0001',
      email: 'alice@example.com',
      email_verified: true,
    });
  });

  it.each([
    ['a wrong audience', { email: 'alice@example.com', sub: 'x' }, 'https://elsewhere.example.com'],
    ['an unknown account', { email: 'nobody@example.com', sub: 'x' }, undefined],
  ])('refuses an assertion with %s (invalid_grant)', async (_what, claims, aud) => {
    const res = await token({ grant_type: JWT_BEARER, assertion: await assertion(claims, aud) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('refuses an assertion signed by someone else', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ email: 'alice@example.com', sub: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'p1' })
      .setIssuer(PARTNER)
      .setAudience(gh.issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await token({ grant_type: JWT_BEARER, assertion: forged });
    expect(res.body.error).toBe('invalid_grant');
  });

  it('exchanges a Gatehouse access token for a new access token for the calling client', async () => {
    const { code, verifier } = await obtainCode(gh.issuer);
    const original = await redeemCode(gh.issuer, code, verifier);
    const res = await token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: original.body.access_token!,
      subject_token_type: ACCESS_TOKEN_TYPE,
      scope: 'openid email',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer' });
    expect(res.body.access_token).not.toBe(original.body.access_token);
    const introspection = await fetch(`${gh.issuer}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(BROKER.client_id, BROKER.client_secret),
      },
      body: new URLSearchParams({ token: res.body.access_token! }),
    }).then((r) => r.json());
    expect(introspection).toMatchObject({ active: true, sub: 'alice-0001', client_id: 'broker' });
  });

  it('refuses an unknown subject token and an unsupported requested token type', async () => {
    expect(
      (
        await token({
          grant_type: TOKEN_EXCHANGE,
          subject_token: 'nope',
          subject_token_type: ACCESS_TOKEN_TYPE,
        })
      ).body.error,
    ).toBe('invalid_grant');
    const res = await token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: 'nope',
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
    });
    expect(res.body).toEqual({
      error: 'invalid_request',
      error_description: 'only access tokens can be requested',
    });
  });

  it('refuses these grants for clients not registered for them (unauthorized_client)', async () => {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(TEST_CLIENTS.web.client_id, TEST_CLIENTS.web.client_secret),
      },
      body: new URLSearchParams({
        grant_type: JWT_BEARER,
        assertion: await assertion({ email: 'alice@example.com', sub: 'x' }),
      }),
    });
    expect((await res.json()).error).toBe('unauthorized_client');
  });
});
