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
import { totpCode } from '../support/totp.js';

const SHOTS = '/tmp/gatehouse-shots';
const FRESH_SECONDS = 3;
const user = (n: number) => ({
  username: `pat${n}`,
  password: 'correct horse battery staple',
  claims: { sub: `pat-${n}`, name: `Pat ${n}` },
});
const creds = (n: number) => ({ username: user(n).username, password: user(n).password });

describe('the account page in Chromium', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let context: BrowserContext | undefined;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    gh = await startTestGatehouse({
      overrides: { users: [1, 2, 3, 4].map(user), mfa: { freshSignInSeconds: FRESH_SECONDS } },
    });
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

  /** Opens /account: signs in first (no consent page for the account page's own client). */
  async function openAccount(page: Page, n: number) {
    await page.goto(`${gh.issuer}/account`);
    expect(await page.title()).toBe('Sign in · Gatehouse');
    await signInOnPage(page, creds(n));
    expect(page.url()).toBe(`${gh.issuer}/account`);
    expect(await page.title()).toBe('Your account · Gatehouse');
  }

  /** Sets up the authenticator app from the account page; returns its secret and the recovery codes shown. */
  async function enrol(page: Page, shot?: string) {
    await submitForm(page, 'button[name=setup-totp]');
    expect(await page.title()).toBe('Set up an authenticator app · Gatehouse');
    expect(await page.locator('#totp-qr svg path').count()).toBeGreaterThan(0);
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    if (shot) await page.screenshot({ path: `${SHOTS}/account-setup-${shot}.png`, fullPage: true });
    // A wrong code does not turn it on.
    await page.fill('input[name=otp]', '000000' === totpCode(secret) ? '111111' : '000000');
    expect((await submitForm(page, 'button:has-text("Turn on")')).status()).toBe(401);
    expect(await page.textContent('[role=alert]')).toContain('not right');
    await page.fill('input[name=otp]', totpCode(secret, Date.now(), -1));
    await submitForm(page, 'button:has-text("Turn on")');
    expect(await page.title()).toBe('Your recovery codes · Gatehouse');
    const codes = (await page.locator('#recovery-codes code').allTextContents()).map((c) => c.trim());
    expect(codes).toHaveLength(10);
    return { secret, codes };
  }

  it.each([
    [375, 1],
    [1280, 2],
  ])('at %ipx: sign in, set up an app with the QR code or key, get recovery codes', async (width, n) => {
    const page = await openPage(width);
    const watch = watchPage(page);
    await openAccount(page, n);
    expect(await page.textContent('#totp-state')).toBe('Off');
    const audits = [await auditPage(page)];
    await page.screenshot({ path: `${SHOTS}/account-${width}.png`, fullPage: true });
    const { secret, codes } = await enrol(page, String(width));
    audits.push(await auditPage(page));
    await page.screenshot({ path: `${SHOTS}/account-codes-${width}.png`, fullPage: true });
    await Promise.all([page.waitForEvent('load'), page.click('a:has-text("Done")')]);
    expect(await page.textContent('#totp-state')).toMatch(/^On \(since \d{4}-\d\d-\d\d\)$/);
    expect(await page.textContent('#recovery-state')).toBe('10 unused');
    audits.push(await auditPage(page));
    for (const audit of audits) {
      expect(audit).toMatchObject({ unlabelled: [], overflowX: 0, lowContrast: [], weakBoundaries: [] });
    }
    expect(watch.problems()).toEqual([]);
    // The only scripts are the passkey button's, from the issuer's own origin.
    const scripts = watch.requests.filter((r) => r.type === 'script').map((r) => new URL(r.url));
    expect(scripts.every((u) => u.origin === gh.issuer && u.pathname.startsWith('/assets/'))).toBe(true);

    // Signing in to an application now asks for a code; a recovery code from the page works once.
    await page.goto(authorizeUrl(gh.issuer, { prompt: 'login' }));
    await signInOnPage(page, creds(n));
    await page.fill('input[name=otp]', codes[0]!);
    await submitForm(page, 'button:has-text("Continue")');
    expect(await page.textContent('h1')).toBe('Allow access?');
    const callback = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    expect(callback.searchParams.get('code')).toBeTruthy();
    await page.goto(`${gh.issuer}/account`);
    expect(await page.textContent('#recovery-state')).toBe('9 unused');
    expect(secret).toHaveLength(32);
  });

  it('can be used with the keyboard alone', async () => {
    const page = await openPage();
    await openAccount(page, 3);
    // Tab from the top of the page to the setup button.
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'setup-totp'; i += 1) {
      await page.keyboard.press('Tab');
      focused = (await page.evaluate(() => document.activeElement?.getAttribute('name'))) ?? '';
    }
    expect(focused).toBe('setup-totp');
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('otp');
    await page.keyboard.type(totpCode(secret));
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    expect(await page.title()).toBe('Your recovery codes · Gatehouse');
  });

  it('removes the app only after a fresh sign-in (password and code again)', async () => {
    const page = await openPage();
    await openAccount(page, 4);
    const { secret } = await enrol(page);
    await page.goto(`${gh.issuer}/account`);
    await new Promise((r) => setTimeout(r, (FRESH_SECONDS + 1) * 1000));
    await submitForm(page, 'button[name=remove-totp]');
    // Not fresh: sign in again, with both factors.
    expect(await page.title()).toBe('Sign in · Gatehouse');
    await signInOnPage(page, creds(4));
    await page.fill('input[name=otp]', totpCode(secret, Date.now(), 1));
    await submitForm(page, 'button:has-text("Continue")');
    expect(page.url()).toBe(`${gh.issuer}/account`);
    expect(await page.textContent('#totp-state')).toMatch(/^On/);
    await submitForm(page, 'button[name=remove-totp]');
    expect(await page.textContent('#account-notice')).toContain('removed');
    expect(await page.textContent('#totp-state')).toBe('Off');
    expect(await page.textContent('#recovery-state')).toBe('0 unused');
  });
});
