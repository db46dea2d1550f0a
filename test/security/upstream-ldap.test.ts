import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { discover } from '../support/rp-client.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { DIRECTORY_PEOPLE, ldapUpstream, startSlapd, type Slapd } from '../support/slapd.js';
import { escapeFilterValue, verifyDirectoryPassword } from '../../src/upstreams/ldap-directory.js';
import { ldapUpstreamSchema } from '../../src/config/upstreams-schema.js';

const web = TEST_CLIENTS.web;

describe('attacks on directory (LDAP) sign-in', () => {
  let slapd: Slapd;
  let gh: RunningGatehouse;
  let rp: client.Configuration;
  const dana = DIRECTORY_PEOPLE[0]!;

  beforeAll(async () => {
    slapd = await startSlapd(DIRECTORY_PEOPLE);
    gh = await startTestGatehouse({
      overrides: {
        upstreams: [ldapUpstream(slapd.url, { groupSearch: undefined, passwordOrder: 'ldap-only' })],
      },
    });
    rp = await discover(gh.issuer, web, client.ClientSecretBasic(web.client_secret));
  });
  afterAll(async () => {
    await gh?.stop();
    await slapd?.stop();
  });

  const config = () =>
    ldapUpstreamSchema.parse(ldapUpstream(slapd.url, { groupSearch: undefined, passwordOrder: 'ldap-only' }));

  /** Posts the sign-in form once; returns the status and where it led. */
  async function attempt(username: string, password: string) {
    const ua = new UserAgent(gh.issuer);
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: web.redirect_uris[0],
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await ua.follow(url.href);
    const { action, fields } = readForm(await page.res.text(), 0);
    const { res, url: landed } = await ua.submit(new URL(action, page.url).href, {
      ...fields,
      username,
      password,
    });
    return { status: res.status, landed };
  }

  it('signs dana in with her directory password (the baseline)', async () => {
    const { landed } = await attempt(dana.uid, dana.password);
    expect(landed).toMatch(new RegExp(`^${gh.issuer}/interaction/`)); // on to consent
  });

  it.each(['*)(uid=*', '*', 'dan*', '*)(|(uid=*', 'dana)(|(objectClass=*'])(
    'treats LDAP filter syntax in the username (%s) as text: no sign-in',
    async (username) => {
      expect(await verifyDirectoryPassword(config(), username, dana.password)).toBeUndefined();
      expect((await attempt(username, dana.password)).status).toBe(401);
    },
  );

  it('escapes the filter characters of RFC 4515', () => {
    expect(escapeFilterValue('*)(uid=*\\\0')).toBe('\\2a\\29\\28uid=\\2a\\5c\\00');
  });

  it('never counts an empty password (an unauthenticated bind) as a success', async () => {
    expect(await verifyDirectoryPassword(config(), dana.uid, '')).toBeUndefined();
    expect((await attempt(dana.uid, '')).status).toBe(401);
  });

  it('refuses (401, not 500) when the directory cannot be reached', async () => {
    const down = ldapUpstreamSchema.parse(ldapUpstream('ldap://127.0.0.1:9', { timeoutMs: 500 }));
    await expect(verifyDirectoryPassword(down, dana.uid, dana.password)).rejects.toThrow();
    const gone = await startTestGatehouse({
      overrides: { upstreams: [{ ...ldapUpstream('ldap://127.0.0.1:9'), timeoutMs: 500 }] },
    });
    try {
      const ua = new UserAgent(gone.issuer);
      const other = await discover(gone.issuer, web, client.ClientSecretBasic(web.client_secret));
      const url = client.buildAuthorizationUrl(other, {
        redirect_uri: web.redirect_uris[0],
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const page = await ua.follow(url.href);
      const { action, fields } = readForm(await page.res.text(), 0);
      const { res } = await ua.submit(new URL(action, page.url).href, {
        ...fields,
        username: 'dana',
        password: 'x',
      });
      expect(res.status).toBe(401);
    } finally {
      await gone.stop();
    }
  });
});
