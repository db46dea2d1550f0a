import { UnauthorizedClientException } from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { obtainCode, redeemCode } from '../support/flows.js';
import {
  ACCESS_TOKEN_TYPE,
  createPartnerIssuer,
  ID_TOKEN_TYPE,
  JWT_TYPE,
  postAsClient,
  registerAwsClient,
  TOKEN_EXCHANGE,
  userinfo,
  type ClientCredentials,
  createTokenWithIamOutcome,
  IAM_KEY,
} from '../support/grant-requests.js';

/**
 * Trust boundary: token exchange (RFC 8693). A subject token is one client's proof of a user's
 * consent; another client must not turn it into a token of its own unless the operator says
 * so, and never into more than it was: more scope, a longer life, or a life after it was revoked.
 */

const WEB = TEST_CLIENTS.web;
/** web-app may also exchange its own tokens. */
const WEB_EXCHANGING = { ...WEB, grant_types: [...WEB.grant_types, TOKEN_EXCHANGE] };
/** Allowed by the operator to exchange web-app's tokens. */
const BROKER = {
  client_id: 'broker',
  client_secret: 'broker-secret-0123456789',
  grant_types: [TOKEN_EXCHANGE],
  redirect_uris: [],
  response_types: [],
  gatehouse_may_exchange_from: ['web-app'],
};
/** Registered for token exchange, but allowed to exchange nobody else's tokens. */
const ROGUE = {
  client_id: 'rogue',
  client_secret: 'rogue-secret-0123456789',
  grant_types: [TOKEN_EXCHANGE],
  redirect_uris: [],
  response_types: [],
};

type Partner = Awaited<ReturnType<typeof createPartnerIssuer>>;

/** web-app's tokens for alice through the code flow (with a refresh token when `offline`). */
async function webTokens(issuer: string, offline = false) {
  const { code, verifier } = await obtainCode(issuer, { offline });
  const res = await redeemCode(issuer, code, verifier);
  if (res.status !== 200) throw new Error(`code redemption failed: ${JSON.stringify(res.body)}`);
  return res.body as { access_token: string; id_token: string; refresh_token?: string };
}

function exchange(issuer: string, client: ClientCredentials, params: Record<string, string>) {
  return postAsClient(issuer, '/token', client, {
    grant_type: TOKEN_EXCHANGE,
    subject_token_type: ACCESS_TOKEN_TYPE,
    ...params,
  });
}

const introspect = async (issuer: string, client: ClientCredentials, token: string) =>
  (await postAsClient(issuer, '/introspect', client, { token })).body as {
    active: boolean;
    exp?: number;
    scope?: string;
    client_id?: string;
  };

describe('token exchange (RFC 8693)', () => {
  let gh: RunningGatehouse;
  let partner: Partner;
  beforeAll(async () => {
    partner = await createPartnerIssuer();
    gh = await startTestGatehouse({
      overrides: {
        clients: [...Object.values(TEST_CLIENTS).filter((c) => c !== WEB), WEB_EXCHANGING, BROKER, ROGUE],
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

  describe('whose tokens', () => {
    it('lets a client exchange its own access token', async () => {
      const { access_token } = await webTokens(gh.issuer);
      const res = await exchange(gh.issuer, WEB, { subject_token: access_token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, scope: 'openid email' });
    });

    it('refuses to exchange another client’s access token (invalid_grant), and issues nothing', async () => {
      const { access_token } = await webTokens(gh.issuer);
      const res = await exchange(gh.issuer, ROGUE, { subject_token: access_token });
      expect(res).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
      });
    });

    it('refuses to exchange another client’s ID token', async () => {
      const { id_token } = await webTokens(gh.issuer);
      const res = await exchange(gh.issuer, ROGUE, {
        subject_token: id_token,
        subject_token_type: ID_TOKEN_TYPE,
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('lets a client the operator listed (gatehouse_may_exchange_from) exchange them', async () => {
      const { access_token, id_token } = await webTokens(gh.issuer);
      const fromAccess = await exchange(gh.issuer, BROKER, { subject_token: access_token });
      expect(fromAccess.status).toBe(200);
      expect(await introspect(gh.issuer, BROKER, fromAccess.body.access_token!)).toMatchObject({
        active: true,
        client_id: 'broker',
        scope: 'openid email',
      });
      // An ID token proves who the user is, not what they consented to: at most `openid`.
      const fromId = await exchange(gh.issuer, BROKER, {
        subject_token: id_token,
        subject_token_type: ID_TOKEN_TYPE,
      });
      expect(fromId.status).toBe(200);
      expect(fromId.body.scope).toBe('openid');
      const wider = await exchange(gh.issuer, BROKER, {
        subject_token: id_token,
        subject_token_type: ID_TOKEN_TYPE,
        scope: 'openid email',
      });
      expect(wider.body.error).toBe('invalid_scope');
    });
  });

  describe('scope', () => {
    it('refuses a scope the subject token does not have (invalid_scope)', async () => {
      const { access_token } = await webTokens(gh.issuer); // openid email
      const res = await exchange(gh.issuer, BROKER, {
        subject_token: access_token,
        scope: 'openid email profile',
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'invalid_scope',
        error_description: 'requested scope exceeds the subject token’s scope',
        scope: 'profile',
      });
    });

    it('gives by default the subject token’s scopes, not all of the caller’s', async () => {
      const { access_token } = await webTokens(gh.issuer);
      const res = await exchange(gh.issuer, BROKER, { subject_token: access_token });
      expect(res.body.scope).toBe('openid email');
      const claims = (await userinfo(gh.issuer, res.body.access_token!)).body;
      expect(claims).toEqual({ sub: 'alice-0001', email: 'alice@example.com', email_verified: true });
    });

    it('gives a narrower scope when asked', async () => {
      const { access_token } = await webTokens(gh.issuer);
      const res = await exchange(gh.issuer, BROKER, { subject_token: access_token, scope: 'openid' });
      expect(res.body.scope).toBe('openid');
      expect((await userinfo(gh.issuer, res.body.access_token!)).body).toEqual({ sub: 'alice-0001' });
    });
  });

  describe('revocation', () => {
    it('ends the exchanged token when the subject grant is revoked (refresh token revoked)', async () => {
      const tokens = await webTokens(gh.issuer, true);
      const exchanged = (await exchange(gh.issuer, BROKER, { subject_token: tokens.access_token })).body
        .access_token!;
      expect((await introspect(gh.issuer, BROKER, exchanged)).active).toBe(true);
      expect((await userinfo(gh.issuer, exchanged)).status).toBe(200);

      const revoked = await postAsClient(gh.issuer, '/revoke', WEB, {
        token: tokens.refresh_token!,
        token_type_hint: 'refresh_token',
      });
      expect(revoked.status).toBe(200);

      expect(await introspect(gh.issuer, BROKER, exchanged)).toEqual({ active: false });
      expect((await userinfo(gh.issuer, exchanged)).status).toBe(401);
    });

    it('ends the exchanged token when the subject access token is revoked', async () => {
      const tokens = await webTokens(gh.issuer);
      const exchanged = (await exchange(gh.issuer, BROKER, { subject_token: tokens.access_token })).body
        .access_token!;
      expect((await userinfo(gh.issuer, exchanged)).status).toBe(200);
      await postAsClient(gh.issuer, '/revoke', WEB, { token: tokens.access_token });
      expect(await introspect(gh.issuer, BROKER, exchanged)).toEqual({ active: false });
      expect((await userinfo(gh.issuer, exchanged)).status).toBe(401);
    });

    it('ends every token of a chain of exchanges when its root is revoked', async () => {
      const tokens = await webTokens(gh.issuer, true);
      const first = (await exchange(gh.issuer, BROKER, { subject_token: tokens.access_token })).body
        .access_token!;
      const second = (await exchange(gh.issuer, BROKER, { subject_token: first })).body.access_token!;
      expect((await userinfo(gh.issuer, second)).status).toBe(200);
      await postAsClient(gh.issuer, '/revoke', WEB, {
        token: tokens.refresh_token!,
        token_type_hint: 'refresh_token',
      });
      expect(await introspect(gh.issuer, BROKER, second)).toEqual({ active: false });
      expect((await userinfo(gh.issuer, second)).status).toBe(401);
      // And the revoked subject cannot be exchanged again.
      expect((await exchange(gh.issuer, BROKER, { subject_token: first })).body.error).toBe('invalid_grant');
    });

    it('refuses a subject exchanged too many times in a row', async () => {
      let token = (await webTokens(gh.issuer)).access_token;
      for (let depth = 1; depth <= 4; depth += 1) {
        const res = await exchange(gh.issuer, BROKER, { subject_token: token });
        expect(res.status).toBe(200);
        token = res.body.access_token!;
      }
      expect((await exchange(gh.issuer, BROKER, { subject_token: token })).body.error).toBe('invalid_grant');
    });
  });

  describe('JWT subject tokens from a trusted issuer', () => {
    const jwt = (claims: Record<string, unknown>, options?: Parameters<Partner['sign']>[1]) =>
      partner.sign({ sub: 'partner-user-9', email: 'alice@example.com', ...claims }, options);
    const exchangeJwt = async (client: ClientCredentials, token: string, scope?: string) =>
      exchange(gh.issuer, client, {
        subject_token: token,
        subject_token_type: JWT_TYPE,
        ...(scope ? { scope } : {}),
      });

    it('refuses one meant for Gatehouse that does not name the caller in may_act', async () => {
      expect((await exchangeJwt(ROGUE, await jwt({ aud: gh.issuer }))).body.error).toBe('invalid_grant');
      expect(
        (await exchangeJwt(ROGUE, await jwt({ aud: gh.issuer, may_act: { client_id: 'broker' } }))).body
          .error,
      ).toBe('invalid_grant');
    });

    it('accepts one whose may_act names the caller, or whose aud is the caller', async () => {
      const byMayAct = await exchangeJwt(
        ROGUE,
        await jwt({ aud: gh.issuer, may_act: { client_id: 'rogue' } }),
      );
      expect(byMayAct.status).toBe(200);
      const byAud = await exchangeJwt(ROGUE, await jwt({ aud: 'rogue' }));
      expect(byAud.status).toBe(200);
    });

    it('ends the exchanged token no later than the JWT, and keeps within its scope claim', async () => {
      const now = Math.floor(Date.now() / 1000);
      const res = await exchangeJwt(
        ROGUE,
        await jwt({ aud: 'rogue', scope: 'openid' }, { iat: now, exp: now + 120 }),
      );
      expect(res.status).toBe(200);
      expect(res.body.expires_in).toBeLessThanOrEqual(120);
      expect(res.body.scope).toBe('openid');
      expect(
        (await exchangeJwt(ROGUE, await jwt({ aud: 'rogue', scope: 'openid' }), 'openid email')).body.error,
      ).toBe('invalid_scope');
    });

    it('refuses a replayed one, and one without jti', async () => {
      const token = await jwt({ aud: 'rogue' });
      expect((await exchangeJwt(ROGUE, token)).status).toBe(200);
      expect((await exchangeJwt(ROGUE, token)).body.error).toBe('invalid_grant');
      expect((await exchangeJwt(ROGUE, await jwt({ aud: 'rogue' }, { jti: null }))).body.error).toBe(
        'invalid_grant',
      );
    });
  });

  describe('a client registered anonymously through the AWS API', () => {
    it('is refused token exchange at /token (unauthorized_client)', async () => {
      const aws = await registerAwsClient(gh.issuer);
      const { access_token } = await webTokens(gh.issuer);
      const res = await postAsClient(
        gh.issuer,
        '/token',
        aws,
        { grant_type: TOKEN_EXCHANGE, subject_token: access_token, subject_token_type: ACCESS_TOKEN_TYPE },
        'post',
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unauthorized_client');
    });

    it('cannot register for the grant', async () => {
      const res = await registerAwsClient(gh.issuer, { grantTypes: [TOKEN_EXCHANGE] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unsupported_grant_type');
    });

    it('is refused token exchange through CreateTokenWithIAM (UnauthorizedClientException)', async () => {
      const aws = await registerAwsClient(gh.issuer);
      const { access_token } = await webTokens(gh.issuer);
      const err = await createTokenWithIamOutcome(gh.issuer, {
        clientId: aws.client_id,
        grantType: TOKEN_EXCHANGE,
        subjectToken: access_token,
        subjectTokenType: ACCESS_TOKEN_TYPE,
      });
      expect(err).toBeInstanceOf(UnauthorizedClientException);
    });
  });
});

describe('token exchange: lifetime bounded by the subject token', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), BROKER],
        ttl: {
          accessToken: 4,
          authorizationCode: 60,
          clientCredentials: 600,
          deviceCode: 600,
          idToken: 3600,
          refreshToken: 1209600,
          interaction: 3600,
          session: 1209600,
          grant: 1209600,
        },
      },
    });
  });
  afterAll(() => gh?.stop());

  it('never lets the exchanged token outlive the subject token', async () => {
    const { access_token } = await webTokens(gh.issuer);
    const subject = await introspect(gh.issuer, WEB, access_token);
    expect(subject.active).toBe(true);
    // Exchanged later than the subject was issued, a token of the full lifetime would outlive it.
    await new Promise((r) => setTimeout(r, 1500));
    const res = await exchange(gh.issuer, BROKER, { subject_token: access_token });
    expect(res.status).toBe(200);
    const exchanged = await introspect(gh.issuer, BROKER, res.body.access_token!);
    expect(exchanged.active).toBe(true);
    expect(exchanged.exp).toBeLessThanOrEqual(subject.exp!);
    expect(res.body.expires_in).toBeLessThanOrEqual(subject.exp! - Math.floor(Date.now() / 1000) + 1);

    await new Promise((r) => setTimeout(r, (subject.exp! + 1) * 1000 - Date.now()));
    expect(await introspect(gh.issuer, BROKER, res.body.access_token!)).toEqual({ active: false });
    expect((await userinfo(gh.issuer, res.body.access_token!)).status).toBe(401);
  });
});
