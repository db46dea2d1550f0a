import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { discover } from '../support/rp-client.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { DIRECTORY_PEOPLE, ldapUpstream, startSlapd, type Slapd } from '../support/slapd.js';
import { totpCode } from '../support/totp.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];
/** A client that needs two factors (client metadata require_mfa): its sign-ins enrol an authenticator app. */
const strict = {
  ...web,
  client_id: 'strict-app',
  client_secret: 'strict-app-secret-0123456789',
  require_mfa: true,
};
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
          clients: [...Object.values(TEST_CLIENTS), strict].map((c) =>
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

    async function flow(user: { username: string; password: string }, otp?: () => string) {
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp, {
        redirect_uri: redirectUri,
        scope: 'openid email profile groups',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const landed = await signIn(new UserAgent(gh.issuer), url.href, user, {
        consent: 'allow',
        ...(otp ? { otp } : {}),
      });
      const tokens = await client.authorizationCodeGrant(rp, landed, {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
      });
      const claims = tokens.claims()!;
      return {
        sub: claims.sub,
        claims,
        userinfo: await client.fetchUserInfo(rp, tokens.access_token, claims.sub),
      };
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

    it('names the directory in ID tokens as idp, with amr pwd; not for a local sign-in', async () => {
      const directory = await flow({ username: 'dana', password: 'dana-directory-pass' });
      expect(directory.claims.idp).toBe('dir');
      expect(directory.claims.amr).toEqual(['pwd']);
      const local = await flow(TEST_USERS.alice);
      expect(local.sub).toBe(TEST_USERS.alice.claims.sub);
      expect(local.claims.idp).toBeUndefined();
      expect(local.claims.amr).toEqual(['pwd']);
    });

    it('keeps idp through the second-factor step: enrolling at sign-in, and the code page after', async () => {
      // A client that needs two factors: the directory user enrols an authenticator app first.
      const rpStrict = await discover(gh.issuer, strict, client.ClientSecretBasic(strict.client_secret));
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rpStrict, {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const ua = new UserAgent(gh.issuer);
      const login = await ua.follow(url.href);
      const form = readForm(await login.res.text());
      const setup = await ua.submit(new URL(form.action, login.url).href, {
        ...form.fields,
        username: 'dana',
        password: 'dana-directory-pass',
      });
      const setupPage = await setup.res.text();
      expect(setupPage).toContain('Set up two-step verification');
      const secret = /id="totp-secret"[^>]*>([A-Z2-7 ]+)</.exec(setupPage)![1]!.replace(/ /g, '');
      const enrol = readForm(setupPage);
      const codes = await ua.submit(new URL(enrol.action, setup.url).href, {
        ...enrol.fields,
        otp: totpCode(secret, Date.now(), -1),
      });
      const next = readForm(await codes.res.text());
      expect(next.action).toMatch(/\/continue$/);
      let done = await ua.submit(new URL(next.action, codes.url).href, next.fields);
      if (!done.url.startsWith(redirectUri)) {
        const allow = readForm(await done.res.text());
        done = await ua.submit(new URL(allow.action, done.url).href, allow.fields);
      }
      const enrolled = await client.authorizationCodeGrant(rpStrict, new URL(done.url), {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
      });
      expect(enrolled.claims()).toMatchObject({ idp: 'dir', amr: ['pwd', 'otp', 'mfa'] });

      // Now enrolled: every sign-in asks for the code, and its ID token still names the directory.
      const coded = await flow({ username: 'dana', password: 'dana-directory-pass' }, () =>
        totpCode(secret, Date.now(), 0),
      );
      expect(coded.sub).toBe(enrolled.claims()!.sub);
      expect(coded.claims).toMatchObject({ idp: 'dir', amr: ['pwd', 'otp', 'mfa'] });
    });

    it('links a directory user to the account with the same (verified) email when linkByEmail is on', async () => {
      expect((await flow({ username: 'alice.dir', password: 'alice-directory-pass' })).sub).toBe(
        TEST_USERS.alice.claims.sub,
      );
    });
  },
);
