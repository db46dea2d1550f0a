import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { atHash, codeFlow, discover, recordRequests } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const ES_CALLBACK = 'https://es.example.com/cb';
/** web-app's twin asking for ES256-signed ID tokens. */
const ES_CLIENT = {
  ...WEB,
  client_id: 'es-app',
  client_secret: 'es-app-secret-0123456789',
  redirect_uris: [ES_CALLBACK],
  id_token_signed_response_alg: 'ES256',
};
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

describe('ID tokens and claims (openid-client as the relying party)', () => {
  let gh: RunningGatehouse;
  let jwks: { keys: JWK[] };
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { clients: [...Object.values(TEST_CLIENTS), ES_CLIENT] } });
    jwks = (await (await fetch(`${gh.issuer}/jwks`)).json()) as { keys: JWK[] };
  });
  afterAll(() => gh?.stop());

  const web = () => discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));

  describe('GET /jwks', () => {
    it('publishes an RS256 and an ES256 signing key, public members only', async () => {
      const res = await fetch(`${gh.issuer}/jwks`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/(jwk-set\+)?json/);
      expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      for (const key of jwks.keys) {
        expect(key).toMatchObject({ kid: expect.any(String), use: 'sig' });
        for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      }
      expect(jwks.keys.find((k) => k.alg === 'RS256')).toMatchObject({ kty: 'RSA', e: 'AQAB' });
      expect(jwks.keys.find((k) => k.alg === 'ES256')).toMatchObject({ kty: 'EC', crv: 'P-256' });
      expect(new Set(jwks.keys.map((k) => k.kid)).size).toBe(2);
    });

    it('is the jwks_uri that discovery names, with both algorithms advertised for ID tokens', async () => {
      const metadata = (await web()).serverMetadata();
      expect(metadata.jwks_uri).toBe(`${gh.issuer}/jwks`);
      expect(metadata.id_token_signing_alg_values_supported).toEqual(
        expect.arrayContaining(['RS256', 'ES256']),
      );
    });
  });

  describe('the ID token from POST /token', () => {
    it('is signed RS256 by default, verified by openid-client against /jwks', async () => {
      const config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret), [
        client.enableNonRepudiationChecks, // openid-client then checks the signature with jwks_uri
      ]);
      const requests = recordRequests(config);
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0]);
      expect(requests.map((r) => r.url)).toContain(`${gh.issuer}/jwks`);
      const header = decodeProtectedHeader(tokens.id_token!);
      const rsaKey = jwks.keys.find((k) => k.alg === 'RS256')!;
      expect(header).toMatchObject({ alg: 'RS256', kid: rsaKey.kid });
      const { payload } = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), {
        issuer: gh.issuer,
        audience: WEB.client_id,
      });
      expect(payload.sub).toBe('alice-0001');
    });

    it('is signed ES256 for a client registered with id_token_signed_response_alg ES256', async () => {
      const config = await discover(gh.issuer, ES_CLIENT, client.ClientSecretBasic(ES_CLIENT.client_secret), [
        client.enableNonRepudiationChecks,
      ]);
      const { tokens } = await codeFlow(config, ES_CALLBACK);
      const ecKey = jwks.keys.find((k) => k.alg === 'ES256')!;
      expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'ES256', kid: ecKey.kid });
      expect(tokens.claims()).toMatchObject({ aud: ES_CLIENT.client_id, sub: 'alice-0001' });
    });

    it('carries iss, aud, sub, nonce, at_hash, auth_time, amr and sid', async () => {
      const before = Math.floor(Date.now() / 1000);
      const { tokens, nonce } = await codeFlow(await web(), WEB.redirect_uris[0]);
      const claims = tokens.claims()!;
      expect(claims).toEqual({
        iss: gh.issuer,
        aud: WEB.client_id,
        sub: 'alice-0001',
        nonce,
        at_hash: atHash(tokens.access_token),
        auth_time: expect.any(Number),
        amr: ['pwd'], // RFC 8176: how the user signed in
        sid: expect.any(String),
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
      expect(claims.exp - claims.iat).toBe(3600); // ttl.idToken
      expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
      expect(claims.auth_time).toBeLessThanOrEqual(claims.iat);
    });

    it('keeps the same sid for sign-ins in one browser session, and a new one in another browser', async () => {
      const config = await web();
      const first = await codeFlow(config, WEB.redirect_uris[0]);
      const again = await codeFlow(config, WEB.redirect_uris[0], {}, { ua: first.ua });
      const other = await codeFlow(config, WEB.redirect_uris[0]);
      expect(again.tokens.claims()!.sid).toBe(first.tokens.claims()!.sid);
      expect(other.tokens.claims()!.sid).not.toBe(first.tokens.claims()!.sid);
    });
  });

  describe('claims released per scope', () => {
    it('scope "openid email": userinfo has only sub, email and email_verified', async () => {
      const config = await web();
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0], { scope: 'openid email' });
      expect(await client.fetchUserInfo(config, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        email: 'alice@example.com',
        email_verified: true,
      });
      // With an access token issued, scope claims come from /userinfo, not the ID token (OIDC Core §5.4).
      expect(tokens.claims()).not.toHaveProperty('email');
    });

    it('scope "openid profile": userinfo has the profile claims and no email', async () => {
      const config = await web();
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0], { scope: 'openid profile' });
      expect(tokens.scope).toBe('openid profile');
      expect(await client.fetchUserInfo(config, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
      });
    });

    it('scope "openid": userinfo has sub alone', async () => {
      const config = await web();
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0], { scope: 'openid' });
      expect(await client.fetchUserInfo(config, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
      });
    });

    it('scope "openid profile email": both sets', async () => {
      const config = await web();
      const { tokens } = await codeFlow(config, WEB.redirect_uris[0], { scope: 'openid profile email' });
      expect(await client.fetchUserInfo(config, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
        email: 'alice@example.com',
        email_verified: true,
      });
    });
  });
});
