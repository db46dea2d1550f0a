import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { codeFlow, discover } from '../support/rp-client.js';

const WEB = TEST_CLIENTS.web;
const ALICE_EMAIL_CLAIMS = { sub: 'alice-0001', email: 'alice@example.com', email_verified: true };

/** Splits a WWW-Authenticate header's first challenge into its scheme and auth-params. */
function firstChallenge(header: string | null): { scheme: string; params: Record<string, string> } {
  const match = /^(\S+)\s+((?:[\w-]+="[^"]*"(?:,\s*)?)*)/.exec(header ?? '');
  if (!match) throw new Error(`no challenge in ${header}`);
  const params: Record<string, string> = {};
  for (const [, key, value] of match[2]!.matchAll(/([\w-]+)="([^"]*)"/g)) params[key!] = value!;
  return { scheme: match[1]!, params };
}

describe('/userinfo (OIDC Core §5.3, RFC 6750)', () => {
  let gh: RunningGatehouse;
  let config: client.Configuration;
  let accessToken: string;
  let userinfo: string;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    accessToken = (await codeFlow(config, WEB.redirect_uris[0], { scope: 'openid email' })).tokens
      .access_token;
    userinfo = `${gh.issuer}/userinfo`;
  });
  afterAll(() => gh?.stop());

  const expectClaims = async (res: Response) => {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(ALICE_EMAIL_CLAIMS);
  };

  it('is the userinfo_endpoint discovery names', () => {
    expect(config.serverMetadata().userinfo_endpoint).toBe(userinfo);
  });

  describe('GET /userinfo', () => {
    it('answers the claims for a bearer token in the Authorization header', async () => {
      await expectClaims(await fetch(userinfo, { headers: { authorization: `Bearer ${accessToken}` } }));
    });

    it('answers openid-client with the claims of the subject it expects', async () => {
      expect(await client.fetchUserInfo(config, accessToken, 'alice-0001')).toEqual(ALICE_EMAIL_CLAIMS);
    });

    it('answers 401 with a bare Bearer challenge (no error code) when no token is sent', async () => {
      const res = await fetch(userinfo);
      expect(res.status).toBe(401);
      const challenge = firstChallenge(res.headers.get('www-authenticate'));
      expect(challenge.scheme).toBe('Bearer');
      expect(challenge.params.realm).toBe(gh.issuer);
      // RFC 6750 §3.1: a request without authentication gets no error code in the challenge.
      expect(challenge.params).not.toHaveProperty('error');
    });

    it('answers 401 with error="invalid_token" for a token it did not issue', async () => {
      const res = await fetch(userinfo, { headers: { authorization: 'Bearer not-a-real-token' } });
      expect(res.status).toBe(401);
      const challenge = firstChallenge(res.headers.get('www-authenticate'));
      expect(challenge).toEqual({
        scheme: 'Bearer',
        params: expect.objectContaining({ realm: gh.issuer, error: 'invalid_token' }),
      });
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    });

    it('surfaces the invalid_token challenge to openid-client', async () => {
      await expect(
        client.fetchUserInfo(config, 'not-a-real-token', client.skipSubjectCheck),
      ).rejects.toMatchObject({
        code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
        status: 401,
        cause: [{ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) }],
      });
    });

    it('refuses a token in the query string (RFC 9700 §2.4.1) with 400 invalid_request', async () => {
      const res = await fetch(`${userinfo}?access_token=${encodeURIComponent(accessToken)}`);
      expect(res.status).toBe(400);
      expect(firstChallenge(res.headers.get('www-authenticate')).params.error).toBe('invalid_request');
    });

    it('refuses credentials in a scheme other than Bearer with 400 invalid_request', async () => {
      const res = await fetch(userinfo, { headers: { authorization: 'Basic d2ViLWFwcDpzZWNyZXQ=' } });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe('POST /userinfo', () => {
    it('answers the claims for a bearer token in the Authorization header', async () => {
      await expectClaims(
        await fetch(userinfo, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }),
      );
    });

    it('answers the claims for access_token in a form-encoded body (RFC 6750 §2.2)', async () => {
      await expectClaims(
        await fetch(userinfo, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ access_token: accessToken }).toString(),
        }),
      );
    });

    it('answers 401 with a Bearer challenge when neither header nor body has a token', async () => {
      const res = await fetch(userinfo, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(res.status).toBe(401);
      const challenge = firstChallenge(res.headers.get('www-authenticate'));
      expect(challenge.scheme).toBe('Bearer');
      expect(challenge.params).not.toHaveProperty('error');
    });

    it('answers 401 invalid_token for a bad token in the body', async () => {
      const res = await fetch(userinfo, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: 'not-a-real-token' }).toString(),
      });
      expect(res.status).toBe(401);
      expect(firstChallenge(res.headers.get('www-authenticate')).params.error).toBe('invalid_token');
    });

    it('refuses a token sent both ways at once (RFC 6750 §2) with 400 invalid_request', async () => {
      const res = await fetch(userinfo, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ access_token: accessToken }).toString(),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });
});
