import * as client from 'openid-client';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { codeFlow, discover } from '../support/rp-client.js';
import { UserAgent } from '../support/browserless.js';
import {
  signInThroughUpstream,
  startUpstreamPair,
  TEST_CLIENTS,
  TEST_USERS,
  UPSTREAM_USERS,
  type UpstreamPair,
} from '../support/upstream-op.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];

/** An authorization request of the web app at the broker, with what the RP must remember. */
async function authorization(rp: client.Configuration, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url: url.href, verifier, state, nonce };
}

describe.each(['memory', 'redis'] as const)(
  'signing in through an OpenID Connect upstream (%s store)',
  (kind) => {
    let redis: RedisServer | undefined;
    let pair: UpstreamPair;
    let rp: client.Configuration;

    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      pair = await startUpstreamPair(redis ? { brokerEnv: { REDIS_URL: redis.url } } : {});
      rp = await discover(pair.broker.issuer, web, client.ClientSecretBasic(web.client_secret));
    });
    afterAll(async () => {
      await pair?.stop();
      await redis?.destroy();
    });

    async function signInAs(user: { username: string; password: string }, upstreamId = 'corp', extra = {}) {
      const auth = await authorization(rp, extra);
      const result = await signInThroughUpstream(pair, auth.url, user, { upstreamId });
      expect(result.url.origin + result.url.pathname).toBe(redirectUri);
      const tokens = await client.authorizationCodeGrant(rp, result.url, {
        pkceCodeVerifier: auth.verifier,
        expectedState: auth.state,
        expectedNonce: auth.nonce,
      });
      return { tokens, claims: tokens.claims()!, result };
    }

    it('creates an account on the first sign-in, with an opaque sub and the mapped claims, and keeps it', async () => {
      const first = await signInAs(UPSTREAM_USERS.carol);
      expect(first.claims.sub).toMatch(/^u_[\w-]{24}$/);
      expect(first.claims.sub).not.toContain(UPSTREAM_USERS.carol.claims.sub);
      const userinfo = await client.fetchUserInfo(rp, first.tokens.access_token, first.claims.sub);
      expect(userinfo).toMatchObject({
        email: 'carol@corp.example',
        email_verified: true,
        name: 'Carol Upstream',
      });
      const again = await signInAs(UPSTREAM_USERS.carol);
      expect(again.claims.sub).toBe(first.claims.sub);
    });

    it('names the upstream in ID tokens as idp, also after a refresh; not for a local sign-in', async () => {
      const { claims, tokens } = await signInAs(UPSTREAM_USERS.carol, 'corp', {
        scope: 'openid offline_access',
        prompt: 'consent',
      });
      expect(claims.idp).toBe('corp');
      const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
      expect(refreshed.claims()?.idp).toBe('corp');
      const local = await codeFlow(rp, redirectUri);
      expect(local.tokens.claims()?.sub).toBe(TEST_USERS.alice.claims.sub);
      expect(local.tokens.claims()?.idp).toBeUndefined();
    });

    it('authenticates to the upstream with private_key_jwt when given privateKeyJwk', async () => {
      const { tokens, claims } = await signInAs(UPSTREAM_USERS.carol, 'corp-jwt');
      expect(claims.idp).toBe('corp-jwt');
      const info = await client.fetchUserInfo(rp, tokens.access_token, claims.sub);
      expect(info.email).toBe('carol@corp.example');
    });

    it('never reuses one upstream identity across two upstreams', async () => {
      const viaCorp = await signInAs(UPSTREAM_USERS.carol, 'corp');
      const viaOther = await signInAs(UPSTREAM_USERS.carol, 'corp-link');
      expect(viaOther.claims.sub).not.toBe(viaCorp.claims.sub);
    });

    it('links to the existing account by email only when the upstream says it is verified and linkByEmail is on', async () => {
      const linked = await signInAs(UPSTREAM_USERS.alice, 'corp-link');
      expect(linked.claims.sub).toBe(TEST_USERS.alice.claims.sub);
      // corp has linkByEmail off: the same person gets an account of their own there.
      const notLinked = await signInAs(UPSTREAM_USERS.alice, 'corp');
      expect(notLinked.claims.sub).not.toBe(TEST_USERS.alice.claims.sub);
      // bob's email is not verified upstream: never linked, even with linkByEmail.
      const unverified = await signInAs(UPSTREAM_USERS.bob, 'corp-link');
      expect(unverified.claims.sub).not.toBe(TEST_USERS.bob.claims.sub);
      expect(unverified.claims.sub).toMatch(/^u_/);
    });

    it('releases the upstream groups under the groups scope only', async () => {
      const without = await signInAs(UPSTREAM_USERS.carol, 'corp');
      const info = await client.fetchUserInfo(rp, without.tokens.access_token, without.claims.sub);
      expect(info.groups).toBeUndefined();
      const withGroups = await signInAs(UPSTREAM_USERS.carol, 'corp', { scope: 'openid groups' });
      const grouped = await client.fetchUserInfo(rp, withGroups.tokens.access_token, withGroups.claims.sub);
      expect(grouped.groups).toEqual(['engineering', 'admins']);
    });

    it('goes straight to the upstream for upstream_hint and for a login_hint in a domain it claims', async () => {
      const straight: Record<string, string>[] = [
        { upstream_hint: 'corp' },
        { login_hint: 'carol@CORP.example' },
      ];
      for (const extra of straight) {
        const auth = await authorization(rp, extra);
        const ua = new UserAgent(pair.broker.issuer);
        const { url } = await ua.follow(auth.url);
        expect(url.startsWith(`${pair.upstream.issuer}/authorize?`)).toBe(true);
        const sent = new URL(url).searchParams;
        expect(sent.get('redirect_uri')).toBe(`${pair.broker.issuer}/upstream/corp/callback`);
        expect(sent.get('code_challenge_method')).toBe('S256');
        expect(sent.get('state')).toMatch(/^[\w-]{40,}$/);
        expect(sent.get('nonce')).toMatch(/^[\w-]{40,}$/);
      }
      // A login_hint in no claimed domain, or an unknown upstream_hint, shows the sign-in page.
      const shown: Record<string, string>[] = [
        { login_hint: 'carol@elsewhere.example' },
        { upstream_hint: 'nope' },
      ];
      for (const extra of shown) {
        const { url, res } = await new UserAgent(pair.broker.issuer).follow(
          (await authorization(rp, extra)).url,
        );
        expect(url.startsWith(`${pair.broker.issuer}/interaction/`)).toBe(true);
        expect(await res.text()).toContain('Continue with Corp');
      }
    });

    it('ends a sign-in denied at the upstream on the error page, then sends access_denied to the relying party', async () => {
      const auth = await authorization(rp);
      const result = await signInThroughUpstream(pair, auth.url, UPSTREAM_USERS.carol, {
        upstreamConsent: 'deny',
      });
      expect(result.res!.status).toBe(400);
      expect(result.html).toContain('Corp did not sign you in.');
      expect(result.html).toMatch(/id="request-id">[\w-]+</);
      const form =
        /<form method="post" action="([^"]+)">[\s\S]*?name="csrf" value="([^"]+)"[\s\S]*?name="error" value="([^"]+)"/.exec(
          result.html!,
        );
      expect(form![3]).toBe('access_denied');
      const back = await result.brokerUa.submit(new URL(form![1]!, pair.broker.issuer).href, {
        csrf: form![2]!,
        error: form![3]!,
      });
      const params = new URL(back.url).searchParams;
      expect(params.get('error')).toBe('access_denied');
      expect(params.get('state')).toBe(auth.state);
      // No session: a silent request from the same browser is answered login_required.
      const silent = await authorization(rp, { prompt: 'none' });
      const { url } = await result.brokerUa.follow(silent.url);
      expect(new URL(url).searchParams.get('error')).toBe('login_required');
    });

    it('counts sign-ins through upstreams by upstream and result', async () => {
      const metrics = await (await fetch(`${pair.broker.issuer}/metrics`)).text();
      expect(metrics).toMatch(
        /gatehouse_upstream_logins_total\{upstream="corp",result="success",reason="",worker="0"\} 7/,
      );
      expect(metrics).toMatch(
        /gatehouse_upstream_logins_total\{upstream="corp",result="failure",reason="denied",worker="0"\} 1/,
      );
    });
  },
);
