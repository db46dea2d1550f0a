import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import {
  auditPage,
  authorizeUrl,
  launchBrowser,
  newContext,
  redirectToRp,
  signInOnPage,
  submitForm,
  watchPage,
} from '../support/browser.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

const SHOTS = '/tmp/gatehouse-shots';

/** One enrolled user per test: a used time step is refused for that user for a while. */
const user = (n: number) => ({
  username: `mallory${n}`,
  password: 'correct horse battery staple',
  totp: TEST_TOTP_SECRET,
  claims: { sub: `mallory-${n}`, name: `Mallory ${n}` },
});

describe('the second-factor page in Chromium', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let context: BrowserContext | undefined;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { users: [1, 2, 3, 4].map(user) } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.stop();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function openPage(width = 1280): Promise<Page> {
    context = await newContext(browser, width);
    return context.newPage();
  }

  it.each([
    [375, 1],
    [1280, 2],
  ])('at %ipx: labelled, focused, fits, readable; a code signs in', async (width, n) => {
    const page = await openPage(width);
    const watch = watchPage(page);
    await page.goto(authorizeUrl(gh.issuer));
    const posted = await signInOnPage(page, user(n));
    expect(posted.status()).toBe(200);
    expect(await page.title()).toBe('Two-step verification · Gatehouse');
    expect(await page.getAttribute('input[name=otp]', 'autocomplete')).toBe('one-time-code');
    expect(await page.locator('form input[type=hidden][name=csrf]').first().inputValue()).toMatch(
      /^[\w-]{40,}$/,
    );
    expect(await page.locator('script').count()).toBe(0);
    const audit = await auditPage(page);
    expect(audit).toMatchObject({
      unlabelled: [],
      firstField: 'input[name=otp]',
      focused: 'input[name=otp]',
      overflowX: 0,
      lowContrast: [],
      weakBoundaries: [],
    });
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/second-factor-${width}.png`, fullPage: true });
    const box = await page.locator('button:has-text("Continue")').boundingBox();
    expect(box!.y + box!.height).toBeLessThanOrEqual(800);
    await page.fill('input[name=otp]', totpCode(TEST_TOTP_SECRET, Date.now(), -1));
    await submitForm(page, 'button:has-text("Continue")');
    // Consent comes next for the web app; the code page is gone.
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    const callback = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(watch.problems()).toEqual([]);
    // The only scripts (the sign-in page's passkey button) come from the issuer's origin; the
    // code page of a user without a passkey has none and works without JavaScript.
    const scripts = watch.requests.filter((r) => r.type === 'script').map((r) => new URL(r.url));
    expect(scripts.every((u) => u.origin === gh.issuer && u.pathname.startsWith('/assets/'))).toBe(true);
  });

  it('can be used with the keyboard alone, and says what went wrong', async () => {
    const page = await openPage();
    await page.goto(authorizeUrl(gh.issuer));
    await signInOnPage(page, user(3));
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'otp');
    // Focus is already in the field: type a wrong code and press Enter.
    await page.keyboard.type('000000');
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    expect(await page.textContent('[role=alert]')).toContain('not right');
    expect(await page.getAttribute('input[name=otp]', 'aria-describedby')).toContain('otp-error');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('otp');
    await page.keyboard.type(totpCode(TEST_TOTP_SECRET, Date.now(), 1));
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    expect(await page.textContent('h1')).toBe('Allow access?');
  });

  it('Cancel (reached with Tab) ends the sign-in with access_denied at the relying party', async () => {
    const page = await openPage();
    await page.goto(authorizeUrl(gh.issuer));
    await signInOnPage(page, user(4));
    // autofocus lands on the code field once the page is ready; Tab from there, not from the page.
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'otp');
    await page.keyboard.press('Tab'); // Continue
    await page.keyboard.press('Tab'); // Cancel
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Cancel');
    const callback = await redirectToRp(page, () => page.keyboard.press('Enter'));
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });
});
