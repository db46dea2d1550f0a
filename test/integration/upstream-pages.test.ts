import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
} from '@aws-sdk/client-sso-oidc';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import {
  authorizeUrl,
  launchBrowser,
  newContext,
  redirectToRp,
  signInOnPage,
  submitForm,
} from '../support/browser.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { basicAuth } from '../support/flows.js';
import { startUpstreamPair, UPSTREAM_USERS, type UpstreamPair } from '../support/upstream-op.js';
import { startFakeGithub, type FakeGithub } from '../support/fake-github.js';
import { DIRECTORY_PEOPLE, ldapUpstream, startSlapd, type Slapd } from '../support/slapd.js';
import { discover } from '../support/rp-client.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

describe('signing in through an upstream in a browser', () => {
  let pair: UpstreamPair;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    pair = await startUpstreamPair({ brokerOverrides: { deviceFlow: FAST_DEVICE_FLOW } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await pair?.stop();
  });
  beforeEach(async () => {
    context = await newContext(browser);
    page = await context.newPage();
  });
  afterEach(() => context?.close());

  /** On the upstream's pages: sign in and allow the broker. */
  async function signInUpstream() {
    expect(page.url().startsWith(`${pair.upstream.issuer}/interaction/`)).toBe(true);
    await signInOnPage(page, UPSTREAM_USERS.carol);
    await submitForm(page, 'button:has-text("Allow")');
  }

  it('offers "Continue with <name>" buttons in a form with the anti-CSRF field, and signs in through them', async () => {
    await page.goto(authorizeUrl(pair.broker.issuer));
    const button = page.locator('button[name=upstream][value=corp]');
    expect((await button.textContent())?.trim()).toBe('Continue with Corp');
    expect(await page.locator('button[name=upstream][value=corp-link]').textContent()).toContain(
      'Continue with Corp (linked)',
    );
    const form = page.locator('form', { has: button });
    expect(await form.getAttribute('method')).toBe('post');
    expect(await form.locator('input[name=csrf]').inputValue()).toMatch(/^[\w-]{40,}$/);
    // The username and password form is still there for the broker's own users.
    expect(await page.locator('input[name=password]').count()).toBe(1);

    await submitForm(page, 'button[name=upstream][value=corp]');
    await signInUpstream();
    expect(page.url().startsWith(`${pair.broker.issuer}/interaction/`)).toBe(true);
    expect(await page.textContent('h1')).toBe('Allow access?');
    const landed = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe('st-123');
  });

  it('signs the user of an AWS device flow (aws sso login) in through the upstream', async () => {
    const sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${pair.broker.issuer}/aws/oidc` });
    try {
      const registered = await sso.send(
        new RegisterClientCommand({ clientName: 'cli', clientType: 'public' }),
      );
      const auth = await sso.send(
        new StartDeviceAuthorizationCommand({
          clientId: registered.clientId,
          clientSecret: registered.clientSecret,
          startUrl: 'https://d-0000000000.awsapps.com/start',
        }),
      );
      await page.goto(auth.verificationUriComplete!);
      await submitForm(page, 'button:has-text("Continue")');
      await submitForm(page, 'button[name=upstream][value=corp]');
      await signInUpstream();
      expect(await page.locator('#user-code').textContent()).toBe(auth.userCode);
      await submitForm(page, 'button[name=confirm]');
      expect(await page.textContent('h1')).toContain('Device connected');
      const tokens = await sso.send(
        new CreateTokenCommand({
          clientId: registered.clientId,
          clientSecret: registered.clientSecret,
          grantType: DEVICE,
          deviceCode: auth.deviceCode,
        }),
      );
      expect(tokens.accessToken).toEqual(expect.any(String));
      // A resource server (the test service client) sees whose token it is: the upstream user's account.
      const introspection = (await fetch(`${pair.broker.issuer}/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(TEST_CLIENTS.service.client_id, TEST_CLIENTS.service.client_secret),
        },
        body: new URLSearchParams({ token: tokens.accessToken! }).toString(),
      }).then((r) => r.json())) as { active: boolean; sub: string };
      expect(introspection.active).toBe(true);
      expect(introspection.sub).toMatch(/^u_[\w-]{24}$/);
    } finally {
      sso.destroy();
    }
  });
});

describe('signing in through the GitHub preset and an LDAP directory in a browser', () => {
  const web = TEST_CLIENTS.web;
  let github: FakeGithub;
  let slapd: Slapd;
  let gh: RunningGatehouse;
  let rp: client.Configuration;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    github = await startFakeGithub();
    github.user = {
      id: 2002,
      login: 'hubot',
      name: 'Hubot Browser',
      emails: [{ email: 'hubot@github.example', primary: true, verified: true }],
      teams: [],
    };
    slapd = await startSlapd(DIRECTORY_PEOPLE, []);
    gh = await startTestGatehouse({
      overrides: {
        upstreams: [
          {
            id: 'github',
            type: 'github',
            clientId: github.clientId,
            clientSecret: github.clientSecret,
            baseUrl: github.baseUrl,
          },
          ldapUpstream(slapd.url),
        ],
      },
    });
    rp = await discover(gh.issuer, web, client.ClientSecretBasic(web.client_secret));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.stop();
    await slapd?.stop();
    await github?.close();
  });
  beforeEach(async () => {
    context = await newContext(browser);
    page = await context.newPage();
  });
  afterEach(() => context?.close());

  /** An authorization request built by openid-client, and how to redeem the code it leads to. */
  async function request() {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: web.redirect_uris[0],
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    /** Redeems the code; returns the ID token's claims and the userinfo answer. */
    const redeem = async (landed: URL) => {
      const tokens = await client.authorizationCodeGrant(rp, landed, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      const claims = tokens.claims()!;
      return { claims, userinfo: await client.fetchUserInfo(rp, tokens.access_token, claims.sub) };
    };
    return { url: url.href, redeem };
  }

  /** Runs `action`, then allows the client on the consent page; returns where the RP was reached. */
  const allowAtRp = (action: () => Promise<unknown>) =>
    redirectToRp(page, async () => {
      await action();
      expect(await page.textContent('h1')).toBe('Allow access?');
      await submitForm(page, 'button:has-text("Allow")');
    });

  it('signs in with the "Continue with GitHub" button and ends at the RP with a code', async () => {
    const { url, redeem } = await request();
    await page.goto(url);
    const button = page.locator('button[name=upstream][value=github]');
    expect((await button.textContent())?.trim()).toBe('Continue with GitHub');
    // An LDAP upstream has no button: the directory is asked through the password form.
    expect(await page.locator('button[name=upstream][value=dir]').count()).toBe(0);
    const landed = await allowAtRp(() => submitForm(page, 'button[name=upstream][value=github]'));
    expect(landed.origin + landed.pathname).toBe(web.redirect_uris[0]);
    const { claims, userinfo } = await redeem(landed);
    expect(claims.sub).toMatch(/^u_[\w-]{24}$/);
    expect(claims.idp).toBe('github');
    expect(userinfo).toMatchObject({ name: 'Hubot Browser', email: 'hubot@github.example' });
    expect(github.issued.length).toBeGreaterThan(0);
  });

  it('signs a directory user in on the password form and ends at the RP with a code', async () => {
    const { url, redeem } = await request();
    await page.goto(url);
    const dana = DIRECTORY_PEOPLE.find((p) => p.uid === 'dana')!;
    const landed = await allowAtRp(() => signInOnPage(page, { username: dana.uid, password: dana.password }));
    const { claims, userinfo } = await redeem(landed);
    expect(claims.sub).toMatch(/^u_[\w-]{24}$/);
    expect(claims).toMatchObject({ idp: 'dir', amr: ['pwd'] });
    expect(userinfo).toMatchObject({ preferred_username: 'dana', name: dana.cn, email: dana.mail });
  });

  it('still signs local users in on the same form, without idp', async () => {
    const { url, redeem } = await request();
    await page.goto(url);
    const landed = await allowAtRp(() => signInOnPage(page, TEST_USERS.alice));
    const { claims } = await redeem(landed);
    expect(claims.sub).toBe(TEST_USERS.alice.claims.sub);
    expect(claims.idp).toBeUndefined();
  });
});
