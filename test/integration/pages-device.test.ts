import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import {
  approveDeviceInBrowser,
  usePageSession,
  launchBrowser,
  newContext,
  signInOnPage,
  startDeviceAuthorization,
  submitForm,
} from '../support/browser.js';

const DEFAULTS = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as {
  deviceFlow: { userCodeAttemptsPerMinute: number };
};

/** The device's side: one poll of the token endpoint with its device_code. */
async function poll(issuer: string, deviceCode: string) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: deviceCode,
      client_id: TEST_CLIENTS.device.client_id,
    }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('connecting a device on the /device pages in a browser', () => {
  const session = usePageSession();
  let gh: RunningGatehouse;
  let page: Page;
  beforeEach(() => ({ gh, page } = session));

  it('approves a device: the code pre-filled, sign-in, then one approval page showing app, code and scopes, then success', async () => {
    const device = await startDeviceAuthorization(gh.issuer, 'openid email offline_access');
    expect(device.verification_uri_complete).toBe(
      `${gh.issuer}/device?user_code=${encodeURIComponent(device.user_code)}`,
    );
    const entry = await page.goto(device.verification_uri_complete);
    expect(entry!.status()).toBe(200);
    expect(await page.textContent('h1')).toBe('Connect a device');
    expect(await page.inputValue('input[name=user_code]')).toBe(device.user_code);
    expect(await page.locator('label[for=user_code]').textContent()).toBe('Code');
    expect(await page.locator('form input[type=hidden][name=xsrf]').inputValue()).not.toBe('');
    // Nothing is submitted on the user's behalf: the page waits for Continue (works without JavaScript).
    expect(await page.locator('script').count()).toBe(0);

    // Continue leads straight to sign-in: no separate confirmation page.
    expect((await submitForm(page, 'button:has-text("Continue")')).status()).toBe(303);
    expect(await page.textContent('h1')).toBe('Sign in');
    expect(await page.textContent('main')).toContain('Living-room TV');
    expect((await signInOnPage(page)).status()).toBe(303);

    expect(await page.textContent('h1')).toBe('Allow access on a device?');
    expect(await page.textContent('.lead')).toBe(
      'Living-room TV wants to sign in on a device as Alice Liddell.',
    );
    expect(await page.textContent('main')).toContain('Check that this code matches the one on your device');
    expect(await page.textContent('#user-code')).toBe(device.user_code);
    expect(await page.locator('.scopes li').allTextContents()).toEqual([
      'Know who you are (your account identifier)',
      'See your email address',
      'Stay connected when you are not using it',
    ]);
    expect(await page.textContent('#keeps-access')).toContain('keeps access after you leave');
    expect(await page.locator('#unverified-client').count()).toBe(0);
    expect(await page.locator('button[name=confirm][type=submit]').textContent()).toBe('Allow');
    expect(await page.locator('button[name=abort][type=submit]').textContent()).toBe('Deny');
    // Until Allow, the device is still waiting.
    expect((await poll(gh.issuer, device.device_code)).body.error).toBe('authorization_pending');

    expect((await submitForm(page, 'button:has-text("Allow")')).status()).toBe(303);
    expect(await page.textContent('h1')).toBe('Device connected');
    expect(await page.textContent('.lead')).toBe('Your device is signed in to Living-room TV.');
    const tokens = await poll(gh.issuer, device.device_code);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({
      token_type: 'Bearer',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      scope: 'openid email offline_access',
    });
  });

  it('with a session already (SSO), the code leads straight to the approval page, and Allow is still needed', async () => {
    const first = await startDeviceAuthorization(gh.issuer);
    await approveDeviceInBrowser(page, first.verification_uri_complete);
    expect(await page.textContent('h1')).toBe('Device connected');

    // Same browser, same client and scope: the earlier grant covers it, yet the page still asks.
    const second = await startDeviceAuthorization(gh.issuer);
    await page.goto(second.verification_uri_complete);
    await submitForm(page, 'button:has-text("Continue")');
    expect(await page.textContent('h1')).toBe('Allow access on a device?');
    expect(await page.textContent('#user-code')).toBe(second.user_code);
    expect(await page.locator('#keeps-access').count()).toBe(0);
    expect((await poll(gh.issuer, second.device_code)).body.error).toBe('authorization_pending');
    await submitForm(page, 'button[name=confirm]');
    expect(await page.textContent('h1')).toBe('Device connected');
    expect((await poll(gh.issuer, second.device_code)).status).toBe(200);
  });

  it('denying on the approval page cancels the request, and the device is told access_denied', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    await page.goto(device.verification_uri_complete);
    await submitForm(page, 'button:has-text("Continue")');
    await signInOnPage(page);
    await submitForm(page, 'button:has-text("Deny")');
    expect(await page.textContent('h1')).toBe('Connect a device');
    expect(await page.textContent('[role=alert]')).toBe('The sign-in request was cancelled.');
    expect(await poll(gh.issuer, device.device_code)).toEqual({
      status: 400,
      body: expect.objectContaining({ error: 'access_denied' }),
    });
  });

  it('approveDeviceInBrowser denies too', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    await approveDeviceInBrowser(page, device.verification_uri_complete, TEST_USERS.alice, 'deny');
    expect(await page.textContent('[role=alert]')).toBe('The sign-in request was cancelled.');
    expect((await poll(gh.issuer, device.device_code)).body.error).toBe('access_denied');
  });

  it('a wrong code is answered on the entry page with a clear error, the code kept for correcting', async () => {
    await page.goto(`${gh.issuer}/device`);
    expect(await page.inputValue('input[name=user_code]')).toBe('');
    await page.fill('input[name=user_code]', 'BCDF-GHJK');
    const response = await submitForm(page, 'button:has-text("Continue")');
    expect(response.status()).toBe(400);
    expect(await page.textContent('h1')).toBe('Connect a device');
    expect(await page.textContent('[role=alert]')).toBe(
      'That code is not valid. Check the code on your device and try again.',
    );
    expect(await page.inputValue('input[name=user_code]')).toBe('BCDF-GHJK');
    expect(await page.getAttribute('input[name=user_code]', 'aria-describedby')).toBe('code-error');

    // Correcting it works from the same page.
    const device = await startDeviceAuthorization(gh.issuer);
    await page.fill('input[name=user_code]', device.user_code);
    expect((await submitForm(page, 'button:has-text("Continue")')).status()).toBe(303);
    expect(await page.textContent('h1')).toBe('Sign in');
  });
});

describe('guessing device codes in a browser', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let context: BrowserContext;
  beforeAll(async () => {
    gh = await startTestGatehouse(); // its own instance: the wrong-code budget is per IP
    browser = await launchBrowser();
    context = await newContext(browser);
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gh?.stop();
  });

  it('after the configured number of wrong codes in a minute, the page answers 429 with a clear message', async () => {
    const allowed = gh.config.deviceFlow.userCodeAttemptsPerMinute;
    expect(allowed).toBe(DEFAULTS.deviceFlow.userCodeAttemptsPerMinute);
    const page = await context.newPage();
    await page.goto(`${gh.issuer}/device`);

    const statuses: number[] = [];
    for (let attempt = 1; attempt <= allowed; attempt += 1) {
      await page.fill('input[name=user_code]', `BCDF-GHJ${'KLMNPQRS'[attempt]}`);
      statuses.push((await submitForm(page, 'button:has-text("Continue")')).status());
    }
    expect(statuses).toEqual(Array(allowed).fill(400));

    // Even the right code is refused now: the limit is on trying, not on being wrong.
    const device = await startDeviceAuthorization(gh.issuer);
    const xsrf = await page.locator('input[name=xsrf]').inputValue(); // the session's current form secret
    await page.fill('input[name=user_code]', device.user_code);
    const limited = await submitForm(page, 'button:has-text("Continue")');
    expect(limited.status()).toBe(429);
    const headers = await limited.allHeaders();
    expect(Number(headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    expect(await page.textContent('h1')).toBe('Too many attempts');
    expect(await page.textContent('[role=alert]')).toBe(
      `Too many incorrect codes. Wait ${headers['retry-after']} seconds, then try again.`,
    );
    // The form stays usable for after the wait: same session form secret, the code kept.
    expect(await page.locator('input[name=xsrf]').inputValue()).toBe(xsrf);
    expect(await page.inputValue('input[name=user_code]')).toBe(device.user_code);
    expect((await submitForm(page, 'button:has-text("Continue")')).status()).toBe(429);
  });
});
