import { Writable } from 'node:stream';
import { pino } from 'pino';
import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { discover } from '../support/rp-client.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];

describe.each(['memory', 'redis'] as const)(
  'signing in through GitHub (a local fake of its endpoints; %s store)',
  (kind) => {
    let redis: RedisServer | undefined;
    let github: FakeGithub;
    let gh: RunningGatehouse;
    let rp: client.Configuration;
    const logLines: string[] = [];

    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      github = await startFakeGithub();
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      });
      gh = await startTestGatehouse({
        logger: pino({ level: 'debug' }, sink),
        ...(redis ? { env: { REDIS_URL: redis.url } } : {}),
        overrides: {
          clients: Object.values(TEST_CLIENTS).map((c) =>
            c.client_id === web.client_id ? { ...c, scope: `${c.scope} groups` } : c,
          ),
          upstreams: [
            {
              id: 'github',
              type: 'github',
              clientId: github.clientId,
              clientSecret: github.clientSecret,
              baseUrl: github.baseUrl,
              teams: true,
              linkByEmail: true,
            },
          ],
        },
      });
      rp = await discover(gh.issuer, web, client.ClientSecretBasic(web.client_secret));
    });
    afterAll(async () => {
      await gh?.stop();
      await github?.close();
      await redis?.destroy();
    });
    beforeEach(() => {
      github.user = {
        id: 1001,
        login: 'octocat',
        name: 'Mona Octocat',
        emails: [
          { email: 'mona@old.example', primary: false, verified: true },
          { email: 'mona@github.example', primary: true, verified: true },
        ],
        teams: [
          { org: 'acme', slug: 'platform' },
          { org: 'acme', slug: 'sre' },
        ],
      };
    });

    /** Runs the whole flow from the relying party's authorization request; returns the callback and the RP's result. */
    async function signIn(scope = 'openid email profile groups') {
      const ua = new UserAgent(gh.issuer);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(rp, {
        redirect_uri: redirectUri,
        scope,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        prompt: 'consent',
      });
      const page = await ua.follow(url.href);
      const html = await page.res.text();
      const index = [...html.matchAll(/<form[^>]*>/g)].findIndex((m) => /\/upstream"/.test(m[0]));
      expect(html).toContain('Continue with GitHub');
      const form = readForm(html, index);
      const toGithub = await ua.submit(new URL(form.action, page.url).href, {
        ...form.fields,
        upstream: 'github',
      });
      const authorize = new URL(toGithub.url);
      expect(authorize.origin + authorize.pathname).toBe(`${github.baseUrl}/login/oauth/authorize`);
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('scope')).toBe('read:user user:email read:org');
      const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
      let landed = await ua.follow(callback.href);
      if (landed.res.status === 200 && new URL(landed.url).origin === gh.issuer) {
        const consent = await landed.res.text();
        if (!/Allow access/.test(consent)) throw new Error(`unexpected page:\n${consent.slice(0, 1500)}`);
        const allow = readForm(consent, 0);
        landed = await ua.submit(new URL(allow.action, landed.url).href, allow.fields);
      }
      const tokens = await client.authorizationCodeGrant(rp, new URL(landed.url), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      const userinfo = await client.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
      return { ua, callback, tokens, claims: tokens.claims()!, userinfo };
    }

    it('creates an account from /user, the primary verified email and org:team groups, keyed on the numeric id', async () => {
      const first = await signIn();
      expect(first.claims.sub).toMatch(/^u_[\w-]{24}$/);
      expect(first.claims.idp).toBe('github');
      expect(first.userinfo).toMatchObject({
        preferred_username: 'octocat',
        name: 'Mona Octocat',
        email: 'mona@github.example',
        email_verified: true,
        groups: ['acme:platform', 'acme:sre'],
      });
      // A renamed login is the same GitHub account (the numeric id is the key).
      github.user = { ...github.user, login: 'mona' };
      const renamed = await signIn();
      expect(renamed.claims.sub).toBe(first.claims.sub);
      expect(renamed.userinfo?.preferred_username).toBe('mona');
    });

    it('links by email only to a primary, verified GitHub email', async () => {
      github.user = {
        ...github.user,
        id: 2002,
        emails: [
          { email: 'alice@example.com', primary: true, verified: false },
          { email: 'other@example.com', primary: false, verified: true },
        ],
      };
      const unverified = await signIn();
      expect(unverified.claims.sub).not.toBe(TEST_USERS.alice.claims.sub);
      expect(unverified.userinfo?.email).toBeUndefined();
      github.user = {
        ...github.user,
        id: 2003,
        emails: [{ email: 'alice@example.com', primary: true, verified: true }],
      };
      const verified = await signIn();
      expect(verified.claims.sub).toBe(TEST_USERS.alice.claims.sub);
    });

    it('refuses a replayed callback and a tampered state: error page, no session', async () => {
      const { callback } = await signIn();
      const replay = new UserAgent(gh.issuer);
      const replayed = await replay.follow(callback.href);
      expect(replayed.res.status).toBe(400);
      expect(await replayed.res.text()).toMatch(/already used/);
      const tampered = new URL(callback);
      tampered.searchParams.set('state', 'forged-state');
      const forged = await replay.follow(tampered.href);
      expect(forged.res.status).toBe(400);
      expect(await forged.res.text()).toMatch(/expired or did not start here/);
    });

    it('never logs GitHub access tokens or the client secret; counts sign-ins by upstream', async () => {
      expect(github.issued.length).toBeGreaterThan(0);
      const logs = logLines.join('');
      expect(logs).toContain('upstream.login.success');
      for (const token of github.issued) expect(logs).not.toContain(token);
      expect(logs).not.toContain(github.clientSecret);
      const metrics = await (await fetch(`${gh.issuer}/metrics`)).text();
      expect(metrics).toMatch(/gatehouse_upstream_logins_total\{upstream="github",result="success"/);
    });
  },
);
