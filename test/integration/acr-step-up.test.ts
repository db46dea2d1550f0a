import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import {
  ACR_MULTI_FACTOR,
  ACR_PASSWORD,
  ACR_PHISHING_RESISTANT,
  KNOWN_ACR_VALUES,
} from '../../src/mfa/acr.js';
import { createFactors } from '../../src/mfa/factors.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { authorizationRequest, discover } from '../support/rp-client.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

const WEB = TEST_CLIENTS.web;
const REDIRECT = WEB.redirect_uris[0]!;
const PASSWORD = 'correct horse battery staple';
/** One enrolled user per test: a TOTP time step, once used, is refused for that user. */
const enrolled = (n: number) => ({
  username: `erin${n}`,
  password: PASSWORD,
  totp: TEST_TOTP_SECRET,
  claims: { sub: `erin-${n}` },
});
const plain = (name: string) => ({ username: name, password: PASSWORD, claims: { sub: `${name}-sub` } });
const USERS = [...[1, 2].map(enrolled), ...['uma', 'vic', 'wes', 'xan', 'yan'].map(plain)];

/** What a drive through the pages saw, and where it ended. */
interface Drive {
  pages: ('password' | 'otp' | 'enrol' | 'consent')[];
  callback: URL;
}

/**
 * Follows an authorization URL through the pages like a person would: the password for `user`,
 * a TOTP code when asked (computed here), Allow on consent. Stops at the client's redirect_uri.
 */
async function drive(
  ua: UserAgent,
  url: URL,
  user: { username: string } | undefined,
  codeStep = 0,
): Promise<Drive> {
  const pages: Drive['pages'] = [];
  let { res, url: at } = await ua.follow(url.href);
  for (let step = 0; step < 6; step += 1) {
    if (at.startsWith(REDIRECT)) return { pages, callback: new URL(at) };
    const html = await res.text();
    const form = readForm(html);
    let fields: Record<string, string>;
    if (/name="password"/.test(html)) {
      if (!user) throw new Error('asked for a password');
      pages.push('password');
      fields = { username: user.username, password: PASSWORD };
    } else if (/totp-secret/.test(html)) {
      pages.push('enrol');
      throw new Error('enrolment page');
    } else if (/name="otp"/.test(html)) {
      pages.push('otp');
      fields = { otp: totpCode(TEST_TOTP_SECRET, Date.now(), codeStep) };
    } else if (/Allow access/.test(html)) {
      pages.push('consent');
      fields = {};
    } else {
      throw new Error(`unexpected page (${res.status}): ${html.slice(0, 500)}`);
    }
    ({ res, url: at } = await ua.submit(new URL(form.action, at).href, { ...form.fields, ...fields }));
  }
  throw new Error('too many pages');
}

describe.each(['memory', 'redis'] as const)(
  'step-up with acr_values and the acr claim (%s store)',
  (kind) => {
    let redis: RedisServer | undefined;
    let gh: RunningGatehouse;
    let config: client.Configuration;
    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      gh = await startTestGatehouse({
        env: redis ? { REDIS_URL: redis.url } : {},
        overrides: { users: USERS, acrValues: [...KNOWN_ACR_VALUES] },
      });
      config = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
    });
    afterAll(async () => {
      await gh?.stop();
      await redis?.destroy();
    });

    const request = (params: Record<string, string> = {}) => authorizationRequest(config, REDIRECT, params);

    it('advertises the three values in acr_values_supported', () => {
      expect(config.serverMetadata().acr_values_supported).toEqual([
        ACR_PASSWORD,
        ACR_MULTI_FACTOR,
        ACR_PHISHING_RESISTANT,
      ]);
    });

    /** Enrols `sub` in TOTP behind the session's back (as /account would): its session stays one-factor. */
    const enrolNow = (sub: string) => createFactors(gh.store, new Map()).setTotp(sub, TEST_TOTP_SECRET);

    it('says acr password for a password sign-in without acr_values', async () => {
      const req = await request();
      const done = await drive(new UserAgent(gh.issuer), req.url, plain('uma'));
      expect(done.pages).toEqual(['password', 'consent']);
      const claims = await req.redeem(done.callback);
      expect(claims.acr).toBe(ACR_PASSWORD);
      expect(claims.amr).toEqual(['pwd']);
    });

    it('steps a password-only session up with just the code, then says multi-factor', async () => {
      const ua = new UserAgent(gh.issuer);
      const first = await request();
      expect((await drive(ua, first.url, plain('vic'))).pages).toEqual(['password', 'consent']);
      await enrolNow('vic-sub');

      const stepUp = await request({ acr_values: ACR_MULTI_FACTOR });
      const done = await drive(ua, stepUp.url, undefined);
      expect(done.pages).toEqual(['otp']); // the session knows the user: no password again
      const claims = await stepUp.redeem(done.callback);
      expect(claims.sub).toBe('vic-sub');
      expect(claims.acr).toBe(ACR_MULTI_FACTOR);
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

      // The stepped-up session: the highest level when nothing is asked, the first met value otherwise.
      const later = await request();
      const quiet = await drive(ua, later.url, undefined);
      expect(quiet.pages).toEqual([]);
      expect((await later.redeem(quiet.callback)).acr).toBe(ACR_MULTI_FACTOR);
      const modest = await request({ acr_values: `${ACR_PASSWORD} ${ACR_MULTI_FACTOR}` });
      const modestDone = await drive(ua, modest.url, undefined);
      expect((await modest.redeem(modestDone.callback)).acr).toBe(ACR_PASSWORD);
    });

    it('goes on with one factor for a voluntary request the user cannot meet', async () => {
      const req = await request({ acr_values: `${ACR_PHISHING_RESISTANT} ${ACR_MULTI_FACTOR}` });
      const done = await drive(new UserAgent(gh.issuer), req.url, plain('wes'));
      expect(done.pages).toEqual(['password', 'consent']);
      const claims = await req.redeem(done.callback);
      expect(claims.acr).toBe(ACR_PASSWORD);
      expect(claims.amr).toEqual(['pwd']);
    });

    it('answers access_denied at the redirect_uri for an essential acr the user cannot meet', async () => {
      const essential = JSON.stringify({
        id_token: { acr: { essential: true, values: [ACR_PHISHING_RESISTANT] } },
      });
      const ua = new UserAgent(gh.issuer);
      const req = await request({ claims: essential });
      const done = await drive(ua, req.url, enrolled(1));
      expect(done.pages).toEqual(['password']); // refused right after the password: no code asked in vain
      expect(`${done.callback.origin}${done.callback.pathname}`).toBe(REDIRECT);
      expect(done.callback.searchParams.get('error')).toBe('access_denied');
      expect(done.callback.searchParams.get('state')).toBe(req.state);
      expect(done.callback.searchParams.get('code')).toBeNull();

      // A signed-in session asking for it: refused at once, no page.
      const signIn = await request();
      await drive(ua, signIn.url, enrolled(1));
      const again = await request({ claims: essential });
      const refused = await drive(ua, again.url, undefined);
      expect(refused.pages).toEqual([]);
      expect(refused.callback.searchParams.get('error')).toBe('access_denied');
    });

    it('answers login_required to prompt=none when a step-up is needed, never a lower acr', async () => {
      const ua = new UserAgent(gh.issuer);
      const first = await request();
      await drive(ua, first.url, plain('xan'));
      await enrolNow('xan-sub');
      const silent = await request({ acr_values: ACR_MULTI_FACTOR, prompt: 'none' });
      const done = await drive(ua, silent.url, undefined);
      expect(done.pages).toEqual([]);
      expect(done.callback.searchParams.get('error')).toBe('login_required');
      expect(done.callback.searchParams.get('code')).toBeNull();
    });

    it('asks every factor again for max_age=0 even when the session is two factors strong', async () => {
      const ua = new UserAgent(gh.issuer);
      const first = await request({ acr_values: ACR_MULTI_FACTOR });
      expect((await drive(ua, first.url, enrolled(2))).pages).toEqual(['password', 'otp', 'consent']);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // max_age counts whole seconds
      const fresh = await request({ acr_values: ACR_MULTI_FACTOR, max_age: '0' });
      // A later time step than the first sign-in's code (a used step is refused).
      const done = await drive(ua, fresh.url, enrolled(2), 1);
      expect(done.pages).toEqual(['password', 'otp']);
      const claims = await fresh.redeem(done.callback);
      expect(claims.acr).toBe(ACR_MULTI_FACTOR);
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    });

    it('enrols an unenrolled user during sign-in for an essential multi-factor acr', async () => {
      const essential = JSON.stringify({
        id_token: { acr: { essential: true, values: [ACR_MULTI_FACTOR] } },
      });
      const req = await request({ claims: essential });
      const ua = new UserAgent(gh.issuer);
      const login = await ua.follow(req.url.href);
      const form = readForm(await login.res.text());
      const next = await ua.submit(new URL(form.action, login.url).href, {
        ...form.fields,
        username: 'yan',
        password: PASSWORD,
      });
      const html = await next.res.text();
      expect(html).toContain('Set up two-step verification');
      expect(html).toContain('totp-secret');
    });
  },
);
