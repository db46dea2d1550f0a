import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_USERS } from '../support/gatehouse.js';
import {
  auditPage,
  authorizeUrl,
  launchBrowser,
  newContext,
  PAGES,
  startDeviceAuthorization,
  submitForm,
  visitEveryPage,
  type PageAudit,
  type PageName,
} from '../support/browser.js';

const SHOTS = '/tmp/gatehouse-shots';

describe('the pages are usable on small and large screens, by keyboard and with assistive technology', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let context: BrowserContext | undefined;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    gh = await startTestGatehouse();
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

  it.each([375, 1280])(
    'every page fits a %ipx-wide screen without sideways scrolling, labels its fields and has readable contrast',
    async (width) => {
      const page = await openPage(width);
      const audits = new Map<PageName, PageAudit>();
      await visitEveryPage(page, gh.issuer, async (name) => {
        audits.set(name, await auditPage(page));
        await page.screenshot({ path: `${SHOTS}/${name}-${width}.png`, fullPage: true });
      });
      expect([...audits.keys()]).toEqual(PAGES);
      for (const [name, audit] of audits) {
        expect({ name, overflowX: audit.overflowX }).toEqual({ name, overflowX: 0 });
        expect({ name, unlabelled: audit.unlabelled }).toEqual({ name, unlabelled: [] });
        expect({ name, lowContrast: audit.lowContrast }).toEqual({ name, lowContrast: [] });
        expect({ name, weakBoundaries: audit.weakBoundaries }).toEqual({ name, weakBoundaries: [] });
      }
    },
  );

  it('the sign-in page at 375px and 1280px is saved as a screenshot for review', async () => {
    for (const width of [375, 1280]) {
      const page = await openPage(width);
      await page.goto(authorizeUrl(gh.issuer, { login_hint: 'alice' }));
      await page.screenshot({ path: `${SHOTS}/sign-in-${width}.png`, fullPage: true });
      // The form starts high enough to be seen without scrolling on a phone.
      const box = await page.getByRole('button', { name: 'Sign in', exact: true }).boundingBox();
      expect(box!.y + box!.height).toBeLessThanOrEqual(800);
      expect(box!.width).toBeGreaterThanOrEqual(width === 375 ? 280 : 300);
      await context!.close();
    }
    context = undefined;
  });

  it('focus starts on the first form field of the sign-in and device code pages', async () => {
    const page = await openPage();
    await page.goto(authorizeUrl(gh.issuer));
    let audit = await auditPage(page);
    expect(audit.firstField).toBe('input[name=username]');
    expect(audit.focused).toBe('input[name=username]');
    // Typing goes straight into the field, and Tab moves on to the password.
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    expect(await page.inputValue('input[name=username]')).toBe('alice');
    expect((await auditPage(page)).focused).toBe('input[name=password]');

    await page.goto(`${gh.issuer}/device`);
    audit = await auditPage(page);
    expect(audit.firstField).toBe('input[name=user_code]');
    expect(audit.focused).toBe('input[name=user_code]');
  });

  it('with the username already filled in (login_hint, or after a failed attempt), focus starts on the password', async () => {
    const page = await openPage();
    await page.goto(authorizeUrl(gh.issuer, { login_hint: 'alice' }));
    expect((await auditPage(page)).focused).toBe('input[name=password]');
    await page.keyboard.type('wrong password');
    await submitForm(page, 'button:has-text("Sign in")');
    expect((await auditPage(page)).focused).toBe('input[name=password]');
    // The error is announced and tied to the field it is about.
    expect(await page.getAttribute('[role=alert]', 'id')).toBe('login-error');
    expect(await page.getAttribute('input[name=username]', 'aria-describedby')).toBe('login-error');
  });

  it('pages without fields start on their main button, and focus is clearly visible', async () => {
    const page = await openPage();
    await page.goto(authorizeUrl(gh.issuer));
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', TEST_USERS.alice.password);
    await submitForm(page, 'button:has-text("Sign in")');
    expect((await auditPage(page)).focused).toBe('button "Allow"');
    expect(await focusRingContrast(page)).toBeGreaterThanOrEqual(3);

    // Signed in already: the code leads straight to the device approval page, focus on Allow.
    const device = await startDeviceAuthorization(gh.issuer);
    await page.goto(device.verification_uri_complete);
    await submitForm(page, 'button:has-text("Continue")');
    expect(await page.textContent('h1')).toBe('Allow access on a device?');
    expect((await auditPage(page)).focused).toBe('button[name=confirm]');
    expect(await focusRingContrast(page)).toBeGreaterThanOrEqual(3);

    await page.goto(`${gh.issuer}/logout`);
    expect((await auditPage(page)).focused).toBe('button[name=logout]');
    // Keyboard focus (not only the autofocus) shows the ring too.
    await page.keyboard.press('Tab');
    expect(await focusRingContrast(page)).toBeGreaterThanOrEqual(3);
  });
});

/** Contrast of the focused element's outline against the card behind it (WCAG 1.4.11 wants 3:1). */
function focusRingContrast(page: Page): Promise<number> {
  return page.evaluate(() => {
    const el = document.activeElement!;
    const style = getComputedStyle(el);
    if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) return 0;
    const lum = (c: string) => {
      const [r, g, b] = (c.match(/[\d.]+/g) ?? []).map(Number).map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const card = getComputedStyle(el.closest('main')!).backgroundColor;
    const [hi, lo] = [lum(style.outlineColor), lum(card)].sort((a, b) => b - a);
    return (hi! + 0.05) / (lo! + 0.05);
  });
}
