import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basic, FORM, obtainCode, POST_CLIENT, WEB, WEB_AUTH } from './bad-input-support.js';

/**
 * Authorization codes presented wrongly at /token: reused, by another client, with the wrong
 * PKCE verifier or redirect_uri. Each is `invalid_grant` (RFC 6749 §5.2, RFC 7636 §4.6).
 */
describe('bad authorization codes at /token', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const token = (fields: Record<string, string>, auth: string | null = WEB_AUTH) => {
    const req = http.post('/token').set('content-type', FORM);
    if (auth) req.set('authorization', auth);
    return req.send(new URLSearchParams(fields).toString());
  };
  const redeem = (code: string, verifier: string, extra: Record<string, string> = {}, auth?: string | null) =>
    token(
      {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: WEB.redirect_uris[0],
        ...extra,
      },
      auth,
    );
  const invalidGrant = { error: 'invalid_grant', error_description: 'grant request is invalid' };
  const expectInvalidGrant = (res: request.Response) => {
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: invalidGrant });
    expect(res.headers['cache-control']).toBe('no-store');
  };
  const introspect = async (value: string) =>
    (await http.post('/introspect').set('authorization', WEB_AUTH).type('form').send({ token: value }))
      .body as {
      active: boolean;
    };

  describe('a code used twice', () => {
    it('is invalid_grant, and what the first use issued stops working', async () => {
      const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
      const first = await redeem(code, verifier);
      expect(first.status).toBe(200);
      const { access_token: accessToken, refresh_token: refreshToken } = first.body as Record<string, string>;
      expect(refreshToken).toEqual(expect.any(String));
      expect((await http.get('/userinfo').set('authorization', `Bearer ${accessToken}`)).status).toBe(200);
      expect(await introspect(accessToken!)).toMatchObject({ active: true });

      expectInvalidGrant(await redeem(code, verifier));

      // RFC 6749 §4.1.2: the tokens issued from the code are revoked.
      const userinfo = await http.get('/userinfo').set('authorization', `Bearer ${accessToken}`);
      expect({ status: userinfo.status, body: userinfo.body }).toEqual({
        status: 401,
        body: { error: 'invalid_token', error_description: 'invalid token provided' },
      });
      expect(userinfo.headers['www-authenticate']).toBe(
        `Bearer realm="${gh.issuer}", error="invalid_token", error_description="invalid token provided"`,
      );
      expect(await introspect(accessToken!)).toEqual({ active: false });
      expect(await introspect(refreshToken!)).toEqual({ active: false });
      expectInvalidGrant(await token({ grant_type: 'refresh_token', refresh_token: refreshToken! }));
    });

    it('a third use is still invalid_grant', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      expect((await redeem(code, verifier)).status).toBe(200);
      expectInvalidGrant(await redeem(code, verifier));
      expectInvalidGrant(await redeem(code, verifier));
    });
  });

  describe('a code redeemed by another client', () => {
    it("is invalid_grant for a confidential client; the code stays its own client's", async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      const stolen = await token(
        {
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: WEB.redirect_uris[0],
          client_id: POST_CLIENT.client_id,
          client_secret: POST_CLIENT.client_secret,
        },
        null,
      );
      expectInvalidGrant(stolen);
      // oidc-provider spends a code only when it is redeemed: a client that got hold of another's
      // code cannot use it, nor spoil it for its own client.
      expect((await redeem(code, verifier)).status).toBe(200);
    });

    it('is invalid_grant for a public client', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      expectInvalidGrant(
        await token(
          {
            grant_type: 'authorization_code',
            code,
            code_verifier: verifier,
            redirect_uri: TEST_CLIENTS.spa.redirect_uris[0],
            client_id: TEST_CLIENTS.spa.client_id,
          },
          null,
        ),
      );
    });

    it('is invalid_grant even with the right redirect_uri for that client (Basic)', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      expectInvalidGrant(
        await redeem(
          code,
          verifier,
          { redirect_uri: TEST_CLIENTS.hybrid.redirect_uris[0] },
          basic(TEST_CLIENTS.hybrid.client_id, TEST_CLIENTS.hybrid.client_secret),
        ),
      );
    });
  });

  describe('PKCE', () => {
    it('a wrong code_verifier is invalid_grant', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      const wrong = `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}`;
      expectInvalidGrant(await redeem(code, wrong));
    });

    it('a missing code_verifier is invalid_grant', async () => {
      const { code } = await obtainCode(gh.issuer);
      expectInvalidGrant(
        await token({ grant_type: 'authorization_code', code, redirect_uri: WEB.redirect_uris[0] }),
      );
    });

    it.each([
      ['short', 'code_verifier must be a string with a minimum length of 43 characters'],
      ['x'.repeat(129), 'code_verifier must be a string with a maximum length of 128 characters'],
      [`${'a'.repeat(42)}!`, 'code_verifier contains invalid characters'],
    ])('a code_verifier of the wrong form (%s) is invalid_request', async (verifier, description) => {
      const { code } = await obtainCode(gh.issuer);
      const res = await redeem(code, verifier);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 400,
        body: { error: 'invalid_request', error_description: description },
      });
    });
  });

  describe('other mismatches', () => {
    it('a redirect_uri other than the authorization request used is invalid_grant', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      expectInvalidGrant(await redeem(code, verifier, { redirect_uri: 'https://rp.example.com/cb/other' }));
    });

    it('an unknown code is invalid_grant', async () => {
      for (const code of ['no-such-code', 'a'.repeat(43), '%ff']) {
        expectInvalidGrant(await redeem(code, 'v'.repeat(43)));
      }
    });

    it('a failed redemption (wrong verifier) does not spend the code', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      expectInvalidGrant(await redeem(code, 'w'.repeat(43)));
      // The verifier cannot be guessed, so leaving the code to the client that holds it is safe.
      expect((await redeem(code, verifier)).status).toBe(200);
      expectInvalidGrant(await redeem(code, verifier));
    });
  });
});
