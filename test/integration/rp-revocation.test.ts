import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { codeFlow, discover } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const SPA = TEST_CLIENTS.spa;
const SERVICE = TEST_CLIENTS.service;

describe('POST /revoke (RFC 7009) and POST /introspect (RFC 7662)', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  let spa: client.Configuration;
  let service: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    spa = await discover(gh.issuer, SPA, client.None());
    service = await discover(gh.issuer, SERVICE, client.ClientSecretBasic(SERVICE.client_secret));
  });
  afterAll(() => gh?.stop());

  const offlineTokens = async () =>
    (await codeFlow(web, WEB.redirect_uris[0], { scope: 'openid email offline_access', prompt: 'consent' }))
      .tokens;
  const userinfoStatus = async (token: string) =>
    (await fetch(`${gh.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;
  const revokeRaw = (token: string, credentials: Record<string, string>, hint?: string) =>
    fetch(`${gh.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token,
        ...(hint ? { token_type_hint: hint } : {}),
        ...credentials,
      }).toString(),
    });

  it('discovery names both endpoints', () => {
    expect(web.serverMetadata()).toMatchObject({
      revocation_endpoint: `${gh.issuer}/revoke`,
      introspection_endpoint: `${gh.issuer}/introspect`,
    });
  });

  describe('introspecting', () => {
    it('describes an active access token: sub, client_id, scope, token_type, iss, iat and exp', async () => {
      const tokens = await offlineTokens();
      const introspected = await client.tokenIntrospection(web, tokens.access_token);
      expect(introspected).toEqual({
        active: true,
        sub: 'alice-0001',
        client_id: WEB.client_id,
        scope: 'openid email offline_access',
        token_type: 'Bearer',
        iss: gh.issuer,
        sid: tokens.claims()!.sid,
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
      expect(introspected.exp! - introspected.iat!).toBe(3600);
    });

    it('describes an active refresh token', async () => {
      const tokens = await offlineTokens();
      const introspected = await client.tokenIntrospection(web, tokens.refresh_token!, {
        token_type_hint: 'refresh_token',
      });
      expect(introspected).toMatchObject({
        active: true,
        sub: 'alice-0001',
        client_id: WEB.client_id,
        scope: 'openid email offline_access',
      });
      expect(introspected.exp! - introspected.iat!).toBe(1209600); // ttl.refreshToken
    });

    it('answers exactly {"active":false} for a token it never issued', async () => {
      expect(await client.tokenIntrospection(web, 'never-issued')).toEqual({ active: false });
    });

    it('lets a client marked gatehouse_resource_server (service) introspect any token', async () => {
      const tokens = await offlineTokens();
      expect(await client.tokenIntrospection(service, tokens.access_token)).toMatchObject({
        active: true,
        client_id: WEB.client_id,
        sub: 'alice-0001',
      });
    });

    it("answers a public client {active:false} for another client's token, and active for its own", async () => {
      const tokens = await offlineTokens();
      expect(await client.tokenIntrospection(spa, tokens.access_token)).toEqual({ active: false });
      const own = await codeFlow(spa, SPA.redirect_uris[0]);
      expect(await client.tokenIntrospection(spa, own.tokens.access_token)).toMatchObject({
        active: true,
        client_id: SPA.client_id,
      });
    });
  });

  describe('revoking, then introspecting', () => {
    it('an access token: active before, {"active":false} after, and refused at /userinfo', async () => {
      const tokens = await offlineTokens();
      expect(await client.tokenIntrospection(web, tokens.access_token)).toMatchObject({ active: true });
      expect(await userinfoStatus(tokens.access_token)).toBe(200);

      await client.tokenRevocation(web, tokens.access_token);

      expect(await client.tokenIntrospection(web, tokens.access_token)).toEqual({ active: false });
      expect(await userinfoStatus(tokens.access_token)).toBe(401);
    });

    it('a refresh token: it and the access tokens of its grant become inactive (RFC 7009 §2.1)', async () => {
      const tokens = await offlineTokens();
      await client.tokenRevocation(web, tokens.refresh_token!, { token_type_hint: 'refresh_token' });

      expect(await client.tokenIntrospection(web, tokens.refresh_token!)).toEqual({ active: false });
      expect(await client.tokenIntrospection(web, tokens.access_token)).toEqual({ active: false });
      await expect(client.refreshTokenGrant(web, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
    });

    it('finds the token even when token_type_hint names the wrong type', async () => {
      const tokens = await offlineTokens();
      await client.tokenRevocation(web, tokens.access_token, { token_type_hint: 'refresh_token' });
      expect(await client.tokenIntrospection(web, tokens.access_token)).toEqual({ active: false });
    });

    it('answers 200 for a token it never issued (RFC 7009 §2.2)', async () => {
      const res = await revokeRaw('never-issued', {
        client_id: TEST_CLIENTS.post.client_id,
        client_secret: TEST_CLIENTS.post.client_secret,
      });
      expect(res.status).toBe(200);
      await expect(client.tokenRevocation(web, 'never-issued')).resolves.toBeUndefined();
    });

    it('answers 200 again for a token already revoked', async () => {
      const tokens = await offlineTokens();
      await client.tokenRevocation(web, tokens.access_token);
      await expect(client.tokenRevocation(web, tokens.access_token)).resolves.toBeUndefined();
    });
  });

  describe("presenting another client's token", () => {
    it('refuses an authenticated client with invalid_request, and the token stays active', async () => {
      const tokens = await offlineTokens();
      await expect(client.tokenRevocation(service, tokens.access_token)).rejects.toMatchObject({
        error: 'invalid_request',
        status: 400,
      });
      expect(await client.tokenIntrospection(web, tokens.access_token)).toMatchObject({ active: true });
      expect(await userinfoStatus(tokens.access_token)).toBe(200);
    });

    it('answers a public client 200 without revoking anything', async () => {
      const tokens = await offlineTokens();
      const res = await revokeRaw(tokens.access_token, { client_id: SPA.client_id });
      expect(res.status).toBe(200);
      expect(await client.tokenIntrospection(web, tokens.access_token)).toMatchObject({ active: true });
      expect((await client.refreshTokenGrant(web, tokens.refresh_token!)).access_token).toEqual(
        expect.any(String),
      );
    });
  });
});
