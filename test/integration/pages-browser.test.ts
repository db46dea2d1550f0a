import type { BrowserContext, Page, Response } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { launchBrowser, watchPage } from '../support/chromium.js';

const RP = 'https://rp.example.com';

describe('the pages in headless Chromium', () => {
  let gh: RunningGatehouse;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let context: BrowserContext;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.stop();
  });
  beforeEach(async () => {
    context = browser.context;
    await context.clearCookies();
    // The relying party's redirect URI is not reachable here: answer it in the browser.
    await context.route(`${RP}/**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<p>rp</p>' }),
    );
  });

  const authorizeUrl = (extra: Record<string, string> = {}) =>
    `${gh.issuer}/authorize?${new URLSearchParams({
      client_id: TEST_CLIENTS.web.client_id,
      response_type: 'code',
      scope: 'openid profile email',
      redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
      state: 'st-123',
      nonce: 'n-123',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...extra,
    })}`;

  /**
   * Runs `action` and returns the URL the browser is sent to at the relying party. (Chromium
   * does not route redirected navigations, so the RP's host is never reached: the request is.)
   */
  async function rpRedirect(page: Page, action: () => Promise<unknown>): Promise<URL> {
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(RP)),
      action().catch(() => undefined),
    ]);
    return new URL(request.url());
  }

  /** Every Gatehouse page: not framable, same-origin only. */
  function expectPageHeaders(response: Response | null) {
    expect(response).not.toBeNull();
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
  }

  async function expectOnlyIssuerRequests(page: Page, requests: string[]) {
    const origin = new URL(gh.issuer).origin;
    expect(
      requests.filter((url) => !url.startsWith(origin) && !url.startsWith(RP) && !url.startsWith('data:')),
    ).toEqual([]);
    void page;
  }

  it('signs in, asks for consent and returns code, state and iss to the client', async () => {
    const page = await context.newPage();
    const { requests, consoleErrors } = watchPage(page);
    const login = await page.goto(authorizeUrl({ login_hint: 'alice' }));
    expectPageHeaders(login);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.inputValue('input[name=username]')).toBe('alice');
    expect(await page.locator('form').first().locator('input[type=hidden][name=csrf]').count()).toBe(1);
    expect(await page.locator('label[for=username]').textContent()).toBe('Username');
    expect(await page.locator('label[for=password]').textContent()).toBe('Password');
    // login_hint filled the username, so focus starts on the password.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('password');

    await page.fill('input[name=password]', 'wrong');
    const failed = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login')),
      page.click('button:has-text("Sign in")'),
    ]);
    expect(failed[0].status()).toBe(401);
    expect(await page.textContent('[role=alert]')).toBe('Incorrect username or password.');

    await page.fill('input[name=password]', TEST_USERS.alice.password);
    const [posted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login')),
      page.click('button:has-text("Sign in")'),
    ]);
    expect(posted.status()).toBe(303);
    await page.waitForSelector('text=Allow access?');
    expect(await page.locator('button:has-text("Deny")').count()).toBe(1);
    const back = await rpRedirect(page, () => page.click('button:has-text("Allow")'));
    expect(back.searchParams.get('state')).toBe('st-123');
    expect(back.searchParams.get('iss')).toBe(gh.issuer);
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
    await expectOnlyIssuerRequests(page, requests);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('returns access_denied when the user denies consent', async () => {
    const page = await context.newPage();
    await page.goto(authorizeUrl());
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', TEST_USERS.alice.password);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('text=Allow access?');
    const back = await rpRedirect(page, () => page.click('button:has-text("Deny")'));
    expect(back.searchParams.get('error')).toBe('access_denied');
    await page.close();
  });

  it('refuses a sign-in posted without its anti-CSRF field and creates no session', async () => {
    const page = await context.newPage();
    await page.goto(authorizeUrl());
    await page.evaluate(() => document.querySelector('input[name=csrf]')?.remove());
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', TEST_USERS.alice.password);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login')),
      page.click('button:has-text("Sign in")'),
    ]);
    expect(refused.status()).toBe(403);
    expectPageHeaders(refused);
    const back = await rpRedirect(page, () => page.goto(authorizeUrl({ prompt: 'none' })));
    expect(back.searchParams.get('error')).toBe('login_required');
    await page.close();
  });

  it('approves a device on the /device pages', async () => {
    const start = await fetch(`${gh.issuer}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: TEST_CLIENTS.device.client_id, scope: 'openid' }).toString(),
    });
    const auth = (await start.json()) as { user_code: string; verification_uri_complete: string };
    const page = await context.newPage();
    const { requests, consoleErrors } = watchPage(page);
    expectPageHeaders(await page.goto(auth.verification_uri_complete));
    expect(await page.inputValue('input[name=user_code]')).toBe(auth.user_code);
    await page.click('button:has-text("Continue")');
    await page.waitForSelector('text=Confirm the device');
    expect(await page.textContent('code')).toBe(auth.user_code);
    expect(await page.locator('button:has-text("Deny")').count()).toBe(1);
    await page.click('button:has-text("Approve")');
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', TEST_USERS.alice.password);
    await page.click('button:has-text("Sign in")');
    await page.click('button:has-text("Allow")');
    await page.waitForSelector('text=Your device is signed in');
    await expectOnlyIssuerRequests(page, requests);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('shows a clear error for a wrong user code', async () => {
    const page = await context.newPage();
    await page.goto(`${gh.issuer}/device`);
    await page.fill('input[name=user_code]', 'BCDF-GHJK');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/device') && r.request().method() === 'POST'),
      page.click('button:has-text("Continue")'),
    ]);
    expect(res.status()).toBe(400);
    expect(await page.textContent('[role=alert]')).toBe(
      'That code is not valid. Check the code on your device and try again.',
    );
    await page.close();
  });

  it('asks before signing out, with a sign-out and a cancel button', async () => {
    const page = await context.newPage();
    await page.goto(authorizeUrl());
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', TEST_USERS.alice.password);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('text=Allow access?');
    expectPageHeaders(await page.goto(`${gh.issuer}/logout`));
    expect(await page.locator('button:has-text("Yes, sign me out")').count()).toBe(1);
    expect(await page.locator('button:has-text("Cancel")').count()).toBe(1);
    await page.click('button:has-text("Yes, sign me out")');
    await page.waitForSelector('text=You are signed out');
    await page.close();
  });

  it.each([375, 1280])('fits a %ipx-wide screen, with readable contrast', async (width) => {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 800 });
    await page.goto(authorizeUrl());
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const ratios = await page.evaluate(() => {
      const rgb = (c: string) => (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const bgOf = (el: Element | null): string => {
        while (el) {
          const bg = getComputedStyle(el).backgroundColor;
          if (bg && !bg.startsWith('rgba(0, 0, 0, 0)') && bg !== 'transparent') return bg;
          el = el.parentElement;
        }
        return 'rgb(255, 255, 255)';
      };
      return [...document.querySelectorAll('h1, p, label, button')].map((el) => {
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(rgb(bgOf(el)));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      });
    });
    for (const ratio of ratios) expect(ratio).toBeGreaterThanOrEqual(4.5);
    await page.close();
  });
});
