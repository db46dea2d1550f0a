import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { discover } from '../support/rp-client.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { DIRECTORY_PEOPLE, ldapUpstream, startSlapd, type Slapd } from '../support/slapd.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];
describe.each(['memory', 'redis'] as const)(
  'signing in with a directory password (LDAP, %s store)',
  (kind) => {
    let redis: RedisServer | undefined;
    let slapd: Slapd;
    let gh: RunningGatehouse;
    let rp: client.Configuration;

    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      slapd = await startSlapd(DIRECTORY_PEOPLE, [{ cn: 'staff', members: ['dana'] }]);
      gh = await startTestGatehouse({
        ...(redis ? { env: { REDIS_URL: redis.url } } : {}),
        overrides: {
          clients: Object.values(TEST_CLIENTS).map((c) =>
            c.client_id === web.client_id ? { ...c, scope: `${c.scope} groups` } : c,
          ),
          upstreams: [ldapUpstream(slapd.url)],
        },
      });
      rp = await discover(gh.issuer, web, client.ClientSecretBasic(web.client_secret));
    });
    afterAll(async () => {
      await gh?.stop();
      await slapd?.stop();
      await redis?.destroy();
    });

    async function flow(user: { username: string; password: string }) {
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp, {
        redirect_uri: redirectUri,
        scope: 'openid email profile groups',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const landed = await signIn(new UserAgent(gh.issuer), url.href, user);
      const tokens = await client.authorizationCodeGrant(rp, landed, {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
      });
      const sub = tokens.claims()!.sub;
      return { sub, userinfo: await client.fetchUserInfo(rp, tokens.access_token, sub) };
    }

    /** Posts the sign-in form once; returns the status and page. */
    async function attempt(username: string, password: string) {
      const ua = new UserAgent(gh.issuer);
      const url = client.buildAuthorizationUrl(rp, {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const page = await ua.follow(url.href);
      const { action, fields } = readForm(await page.res.text(), 0);
      const { res } = await ua.submit(new URL(action, page.url).href, { ...fields, username, password });
      return { status: res.status, html: await res.text() };
    }

    it('signs a directory user in on the password form, with an account, claims and groups', async () => {
      const first = await flow({ username: 'dana', password: 'dana-directory-pass' });
      expect(first.sub).toMatch(/^u_[\w-]{24}$/);
      expect(first.userinfo).toMatchObject({
        preferred_username: 'dana',
        name: 'Dana Directory',
        email: 'dana@example.org',
        email_verified: true,
        groups: ['staff'],
      });
      expect((await flow({ username: 'DANA', password: 'dana-directory-pass' })).sub).toBe(first.sub);
    });

    it('refuses a wrong directory password with the usual message; local users still sign in', async () => {
      const wrong = await attempt('dana', 'not-the-password');
      expect(wrong.status).toBe(401);
      expect(wrong.html).toContain('Incorrect username or password.');
      expect((await flow(TEST_USERS.alice)).sub).toBe(TEST_USERS.alice.claims.sub);
    });

    it('links a directory user to the account with the same (verified) email when linkByEmail is on', async () => {
      expect((await flow({ username: 'alice.dir', password: 'alice-directory-pass' })).sub).toBe(
        TEST_USERS.alice.claims.sub,
      );
    });
  },
);
