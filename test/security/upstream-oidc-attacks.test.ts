import { Writable } from 'node:stream';
import { pino } from 'pino';
import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { discover } from '../support/rp-client.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startFakeOidcUpstream, type FakeOidcUpstream } from '../support/fake-oidc-upstream.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];

describe('attacks on the upstream round trip (a fake upstream OP)', () => {
  let fake: FakeOidcUpstream;
  let gh: RunningGatehouse;
  let rp: client.Configuration;
  const logLines: string[] = [];

  beforeAll(async () => {
    fake = await startFakeOidcUpstream();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    gh = await startTestGatehouse({
      logger: pino({ level: 'debug' }, sink),
      overrides: {
        upstreams: [
          {
            id: 'fake',
            type: 'oidc',
            name: 'Fake',
            issuer: fake.issuer,
            clientId: fake.clientId,
            clientSecret: fake.clientSecret,
            fetchUserinfo: false,
            timeoutMs: 1000,
          },
        ],
      },
    });
    rp = await discover(gh.issuer, web, client.ClientSecretBasic(web.client_secret));
  });
  afterAll(async () => {
    await gh?.stop();
    await fake?.close();
  });
  beforeEach(() => {
    fake.mode = 'ok';
    fake.tokenDelayMs = 0;
  });

  /** Starts a hinted authorization request and returns the upstream's callback URL (not yet followed). */
  async function toCallback(ua: UserAgent, extra: Record<string, string> = {}) {
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state,
      upstream_hint: 'fake',
      ...extra,
    });
    const toUpstream = await ua.follow(url.href);
    expect(toUpstream.url.startsWith(`${fake.issuer}/authorize?`)).toBe(true);
    const res = await fetch(toUpstream.url, { redirect: 'manual' });
    return { callback: new URL(res.headers.get('location')!), state };
  }

  /** Whether `ua` holds a Gatehouse session: a prompt=none request answers with a code, not login_required. */
  async function hasSession(ua: UserAgent): Promise<boolean> {
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid',
      prompt: 'none',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const { url: landed } = await ua.follow(url.href);
    const params = new URL(landed).searchParams;
    if (params.get('error') === 'login_required') return false;
    if (params.get('code') || params.get('error') === 'consent_required') return true;
    throw new Error(`unexpected answer ${landed}`);
  }

  /** Follows a callback to the error page, returns to the relying party, and reads what it receives. */
  async function failsWith(ua: UserAgent, callback: URL, status: number, error: string, message: RegExp) {
    const { res, url } = await ua.follow(callback.href);
    expect(res.status).toBe(status);
    const html = await res.text();
    expect(html).toMatch(message);
    expect(html).toMatch(/id="request-id">[\w-]+</);
    const form = /action="([^"]+upstream-return)"[\s\S]*?name="csrf" value="([^"]+)"/.exec(html);
    const back = await ua.submit(new URL(form![1]!, url).href, { csrf: form![2]!, error });
    const params = new URL(back.url).searchParams;
    expect(params.get('error')).toBe(error);
    expect(await hasSession(ua)).toBe(false);
  }

  it('signs in with a good ID token (the baseline the other cases break)', async () => {
    const ua = new UserAgent(gh.issuer);
    const { callback } = await toCallback(ua);
    const { url } = await ua.follow(callback.href);
    expect(url).toMatch(new RegExp(`^${gh.issuer}/interaction/`)); // the consent page
    expect(await hasSession(ua)).toBe(true);
  });

  it.each([
    ['for another audience', 'wrong-audience'],
    ['that expired', 'expired'],
    ['that is unsigned (alg none)', 'unsigned'],
    ['signed by another key', 'wrong-key'],
    ['with another nonce', 'wrong-nonce'],
  ] as const)('refuses an upstream ID token %s: error page, access_denied, no session', async (_, mode) => {
    fake.mode = mode;
    const ua = new UserAgent(gh.issuer);
    const { callback } = await toCallback(ua);
    await failsWith(ua, callback, 400, 'access_denied', /could not be verified/);
  });

  it('refuses a tampered state without redeeming the code', async () => {
    const ua = new UserAgent(gh.issuer);
    const { callback } = await toCallback(ua);
    const issued = fake.issued.length;
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${callback.searchParams.get('state')}x`);
    const { res } = await ua.follow(tampered.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/expired or did not start here/);
    expect(fake.issued.length).toBe(issued);
    expect(await hasSession(ua)).toBe(false);
  });

  it('refuses a replayed callback', async () => {
    const ua = new UserAgent(gh.issuer);
    const { callback } = await toCallback(ua);
    await ua.follow(callback.href);
    const replay = new UserAgent(gh.issuer);
    const { res } = await replay.follow(callback.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/already used/);
    expect(await hasSession(replay)).toBe(false);
  });

  it('does not sign in a browser that follows a callback started in another browser (login CSRF)', async () => {
    const attacker = new UserAgent(gh.issuer);
    const { callback } = await toCallback(attacker);
    const victim = new UserAgent(gh.issuer);
    const { res } = await victim.follow(callback.href);
    expect(res.status).toBe(400);
    expect(await hasSession(victim)).toBe(false);
  });

  it('answers temporarily_unavailable when the upstream is slower than its timeout', async () => {
    fake.tokenDelayMs = 1500;
    const ua = new UserAgent(gh.issuer);
    const { callback } = await toCallback(ua);
    await failsWith(ua, callback, 503, 'temporarily_unavailable', /did not answer in time/);
  });

  it('fetched discovery once for all these sign-ins, and the JWKS again only for an unknown key', () => {
    expect(fake.fetches.discovery).toBe(1);
    // Once at the first ID token, and again when a token signed by another key failed to verify.
    expect(fake.fetches.jwks).toBeLessThanOrEqual(3);
    expect(fake.fetches.jwks).toBeGreaterThanOrEqual(1);
  });

  it('never logs upstream tokens, codes or the client secret', async () => {
    const logs = logLines.join('');
    expect(logs).toContain('upstream.login.failure');
    expect(logs).toContain('upstream.login.success');
    expect(logs).not.toContain(fake.clientSecret);
    for (const token of fake.issued) expect(logs).not.toContain(token.split('.')[1]);
    expect(logs).not.toMatch(/at-[\w-]{20}/);
  });

  it('refuses the upstream choice and the return form without their anti-CSRF field (403), and starts nothing', async () => {
    const ua = new UserAgent(gh.issuer);
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const { res, url: page } = await ua.follow(url.href);
    const html = await res.text();
    const index = [...html.matchAll(/<form[^>]*>/g)].findIndex((m) => /\/upstream"/.test(m[0]));
    expect(index).toBeGreaterThanOrEqual(0);
    const { action, fields } = readForm(html, index);
    const choose = new URL(action, page).href;
    const forged = { ...fields, csrf: 'forged', upstream: 'fake' };
    for (const body of [forged, { upstream: 'fake' }]) {
      const refused = await ua.submit(choose, body);
      expect(refused.res.status).toBe(403);
      expect(new URL(refused.url).origin).toBe(gh.issuer); // never sent on to the upstream
    }
    const back = await ua.submit(choose.replace(/\/upstream$/, '/upstream-return'), {
      error: 'access_denied',
    });
    expect(back.res.status).toBe(403);
  });
});

describe('an upstream that cannot be reached', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        upstreams: [
          {
            id: 'down',
            type: 'oidc',
            name: 'Down',
            issuer: 'http://127.0.0.1:9', // discard port: nothing listens
            clientId: 'broker',
            clientSecret: 'down-secret-0123456789',
            timeoutMs: 1000,
          },
        ],
      },
    });
  });
  afterAll(() => gh?.stop());

  it('shows the error page with a request id and returns temporarily_unavailable to the relying party', async () => {
    const ua = new UserAgent(gh.issuer);
    const rp = await discover(gh.issuer, web);
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 's-down',
      upstream_hint: 'down',
    });
    const { res, url: page } = await ua.follow(url.href);
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toMatch(/Down cannot be reached right now/);
    expect(html).toMatch(/id="request-id">[\w-]+</);
    const form = /action="([^"]+upstream-return)"[\s\S]*?name="csrf" value="([^"]+)"/.exec(html);
    const back = await ua.submit(new URL(form![1]!, page).href, {
      csrf: form![2]!,
      error: 'temporarily_unavailable',
    });
    expect(new URL(back.url).searchParams.get('error')).toBe('temporarily_unavailable');
    expect(new URL(back.url).searchParams.get('state')).toBe('s-down');
  });
});
