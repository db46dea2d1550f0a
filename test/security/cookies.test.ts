import { createHash, randomBytes } from 'node:crypto';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { redeemCode } from '../support/flows.js';

/**
 * Trust boundary: the browser's cookie jar. Under an https issuer the session cookie carries the
 * `__Host-` prefix, so a sibling subdomain or a plain-http page cannot plant or shadow it
 * (browsers accept such a cookie only with Secure, Path=/ and no Domain).
 */
const ISSUER = 'https://id.example.com';
const WEB = TEST_CLIENTS.web;

/** A cookie-keeping agent for the https issuer, whose requests go to the test server over http. */
class ProxiedAgent extends UserAgent {
  readonly setCookies: string[] = [];
  constructor(private readonly server: string) {
    super(ISSUER);
  }
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await super.request(url.replace(ISSUER, this.server), init);
    this.setCookies.push(...res.headers.getSetCookie());
    return res;
  }
}

function authorizationUrl(issuer: string) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: WEB.client_id,
    response_type: 'code',
    redirect_uri: WEB.redirect_uris[0],
    scope: 'openid email',
    state: 's',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.href, verifier };
}

const named = (cookies: string[], name: string) =>
  cookies.filter((c) => c.startsWith(`${name}=`) && !/expires=Thu, 01 Jan 1970/i.test(c));

describe('session cookies under an https issuer (behind a TLS-terminating proxy)', () => {
  let gh: RunningGatehouse;
  let ua: ProxiedAgent;
  let callback: URL;
  let verifier: string;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { ISSUER, TRUST_PROXY: '1' } });
    ua = new ProxiedAgent(gh.url);
    const start = authorizationUrl(ISSUER);
    verifier = start.verifier;
    callback = await signIn(ua, start.url, TEST_USERS.alice);
  });
  afterAll(() => gh?.stop());

  it('signs in through the pages and the code redeems', async () => {
    expect(callback.origin + callback.pathname).toBe(WEB.redirect_uris[0]);
    const code = callback.searchParams.get('code')!;
    const tokens = await redeemCode(gh.url, code, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.id_token).toEqual(expect.any(String));
  });

  it('names the session cookie and its signature __Host-…, Secure, Path=/, without Domain', () => {
    for (const name of ['__Host-session', '__Host-session.sig']) {
      const cookies = named(ua.setCookies, name);
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) {
        expect(cookie).toMatch(/; secure/i);
        expect(cookie).toMatch(/; path=\/(;|$)/i);
        expect(cookie).not.toMatch(/; domain=/i);
        expect(cookie).toMatch(/; httponly/i);
      }
    }
    expect(named(ua.setCookies, '_session')).toEqual([]);
  });

  it('keeps the path-scoped interaction cookies unprefixed (the prefix requires Path=/), but Secure', () => {
    for (const name of ['_interaction', '_interaction_resume']) {
      const cookies = named(ua.setCookies, name);
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) {
        expect(cookie).toMatch(/; secure/i);
        expect(cookie).toMatch(/; path=\/(interaction|authorize)\//i);
      }
    }
  });

  it('ignores a session cookie planted without the prefix (e.g. by a sibling subdomain)', async () => {
    // The latest value of each (the session id changes at sign-in).
    const latest = new Map<string, string>();
    for (const c of ua.setCookies.filter((c) => c.startsWith('__Host-session'))) {
      const pair = c.split(';')[0]!;
      latest.set(pair.slice(0, pair.indexOf('=')), pair);
    }
    const session = [...latest.values()];
    const authorize = (cookie: string) =>
      fetch(`${gh.url}/authorize${new URL(authorizationUrl(ISSUER).url).search}`, {
        headers: { cookie },
        redirect: 'manual',
      });
    // Control: the real cookie signs the browser straight back in, with a code.
    const real = await authorize(session.join('; '));
    expect(real.headers.get('location')).toMatch(/^https:\/\/rp\.example\.com\/cb\?code=/);
    // The same values under the unprefixed name: not signed in, sent to the sign-in page.
    const planted = await authorize(session.map((c) => c.replace('__Host-session', '_session')).join('; '));
    expect(planted.status).toBe(303);
    expect(planted.headers.get('location')).toMatch(/^\/interaction\//);
  });
});

describe('signing out under an https issuer', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { ISSUER, TRUST_PROXY: '1' } });
  });
  afterAll(() => gh?.stop());

  it('clears the __Host- session cookie with the same attributes', async () => {
    const ua = new ProxiedAgent(gh.url);
    await signIn(ua, authorizationUrl(ISSUER).url, TEST_USERS.alice);
    const { res, url } = await ua.follow(`${ISSUER}/logout`);
    expect(res.status).toBe(200);
    const form = readForm(await res.text());
    const done = await ua.submit(new URL(form.action, url).href, { ...form.fields, logout: 'yes' });
    expect(done.res.status).toBeLessThan(400);
    const cleared = ua.setCookies.filter(
      (c) => c.startsWith('__Host-session=') && /expires=Thu, 01 Jan 1970/i.test(c),
    );
    expect(cleared.length).toBeGreaterThan(0);
    for (const cookie of cleared) {
      expect(cookie).toMatch(/; secure/i);
      expect(cookie).toMatch(/; path=\/(;|$)/i);
    }
  });
});

describe('session cookies under an http issuer', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  it('keep their old names (the __Host- prefix needs https)', async () => {
    const cookies: string[] = [];
    const ua = new (class extends UserAgent {
      override async request(url: string, init: RequestInit = {}) {
        const res = await super.request(url, init);
        cookies.push(...res.headers.getSetCookie());
        return res;
      }
    })(gh.issuer);
    const callback = await signIn(ua, authorizationUrl(gh.issuer).url, TEST_USERS.alice);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    expect(named(cookies, '_session').length).toBeGreaterThan(0);
    expect(cookies.some((c) => c.startsWith('__Host-'))).toBe(false);
  });
});
