import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  CreateTokenCommand,
} from '@aws-sdk/client-sso-oidc';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  authorizeUrl,
  launchBrowser,
  newContext,
  redirectToRp,
  signInOnPage,
  submitForm,
} from '../support/browser.js';
import { FAST_DEVICE_FLOW, TEST_CLIENTS } from '../support/gatehouse.js';
import { basicAuth } from '../support/flows.js';
import { startUpstreamPair, UPSTREAM_USERS, type UpstreamPair } from '../support/upstream-op.js';

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
