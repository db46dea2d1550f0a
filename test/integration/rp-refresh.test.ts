import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { atHash, codeFlow, discover } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const SPA = TEST_CLIENTS.spa;
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

describe('POST /token grant_type=refresh_token', () => {
  let gh: RunningGatehouse;
  let web: client.Configuration;
  let spa: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    spa = await discover(gh.issuer, SPA, client.None());
  });
  afterAll(() => gh?.stop());

  /** Signs alice in to web-app with offline_access granted; returns the first token response. */
  const offlineTokens = async () => (await codeFlow(web, WEB.redirect_uris[0], OFFLINE)).tokens;

  const isActive = async (token: string) => (await client.tokenIntrospection(web, token)).active;
  const userinfoStatus = async (token: string) =>
    (await fetch(`${gh.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

  describe('issuing refresh tokens', () => {
    it('issues none without offline_access', async () => {
      const { tokens } = await codeFlow(web, WEB.redirect_uris[0], { scope: 'openid email' });
      expect(tokens.refresh_token).toBeUndefined();
    });

    it('issues none for offline_access without prompt=consent (OIDC Core §11), and drops the scope', async () => {
      const { tokens } = await codeFlow(web, WEB.redirect_uris[0], { scope: 'openid email offline_access' });
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.scope).toBe('openid email');
    });

    it('issues one when offline_access is granted with prompt=consent', async () => {
      const tokens = await offlineTokens();
      expect(tokens.refresh_token).toEqual(expect.any(String));
      expect(tokens.scope).toBe('openid email offline_access');
    });

    it('issues one to a public client (spa) too, after consent to offline_access', async () => {
      const { tokens } = await codeFlow(spa, SPA.redirect_uris[0], OFFLINE);
      expect(tokens.refresh_token).toEqual(expect.any(String));
      const refreshed = await client.refreshTokenGrant(spa, tokens.refresh_token!);
      expect(refreshed.claims()?.sub).toBe('alice-0001');
    });
  });

  describe('using a refresh token', () => {
    it('rotates the refresh token on every use', async () => {
      const first = await offlineTokens();
      const second = await client.refreshTokenGrant(web, first.refresh_token!);
      const third = await client.refreshTokenGrant(web, second.refresh_token!);
      const refreshTokens = [first, second, third].map((t) => t.refresh_token);
      expect(new Set(refreshTokens).size).toBe(3);
      const accessTokens = [first, second, third].map((t) => t.access_token);
      expect(new Set(accessTokens).size).toBe(3);
      expect(third).toMatchObject({
        token_type: 'bearer',
        expires_in: 3600,
        scope: 'openid email offline_access',
      });
    });

    it('returns a new ID token for the same subject, bound to the new access token', async () => {
      const first = await offlineTokens();
      const refreshed = await client.refreshTokenGrant(web, first.refresh_token!);
      const claims = refreshed.claims()!;
      expect(claims).toMatchObject({
        iss: gh.issuer,
        aud: WEB.client_id,
        sub: 'alice-0001',
        at_hash: atHash(refreshed.access_token),
        sid: first.claims()!.sid,
        auth_time: first.claims()!.auth_time,
      });
      expect(await client.fetchUserInfo(web, refreshed.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        email: 'alice@example.com',
        email_verified: true,
      });
    });

    it('narrows the scope when a subset is asked for, and refuses a wider one with invalid_scope', async () => {
      const first = await offlineTokens();
      const narrowed = await client.refreshTokenGrant(web, first.refresh_token!, {
        scope: 'openid offline_access',
      });
      expect(narrowed.scope).toBe('openid offline_access');
      expect(await client.fetchUserInfo(web, narrowed.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
      });
      await expect(
        client.refreshTokenGrant(web, narrowed.refresh_token!, {
          scope: 'openid email profile offline_access',
        }),
      ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
    });
  });

  describe('presenting a refresh token that was already rotated', () => {
    it('answers invalid_grant and revokes the whole grant', async () => {
      const first = await offlineTokens();
      const second = await client.refreshTokenGrant(web, first.refresh_token!);
      expect(await isActive(second.access_token)).toBe(true);
      expect(await isActive(second.refresh_token!)).toBe(true);

      await expect(client.refreshTokenGrant(web, first.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
        status: 400,
      });

      // The newest refresh token is dead too…
      await expect(client.refreshTokenGrant(web, second.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      // …and so is every access token of the grant.
      for (const token of [first.access_token, second.access_token, second.refresh_token!]) {
        expect(await client.tokenIntrospection(web, token)).toEqual({ active: false });
      }
      expect(await userinfoStatus(first.access_token)).toBe(401);
      expect(await userinfoStatus(second.access_token)).toBe(401);
    });

    it('leaves other grants of the same user alone', async () => {
      const other = await offlineTokens();
      const victim = await offlineTokens();
      await client.refreshTokenGrant(web, victim.refresh_token!);
      await expect(client.refreshTokenGrant(web, victim.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect(await isActive(other.access_token)).toBe(true);
      expect((await client.refreshTokenGrant(web, other.refresh_token!)).access_token).toEqual(
        expect.any(String),
      );
    });
  });

  describe('presenting a refresh token issued to another client', () => {
    it('answers invalid_grant, and the token keeps working for its own client', async () => {
      const tokens = await offlineTokens();
      await expect(client.refreshTokenGrant(spa, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
        status: 400,
      });
      const refreshed = await client.refreshTokenGrant(web, tokens.refresh_token!);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
    });

    it('answers invalid_grant for a refresh token it never issued', async () => {
      await expect(client.refreshTokenGrant(web, 'not-a-refresh-token')).rejects.toMatchObject({
        error: 'invalid_grant',
        status: 400,
      });
    });
  });
});
