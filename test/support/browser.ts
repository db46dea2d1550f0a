import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from './gatehouse.js';

/** The web-app client's redirect URIs live here; the host is not reachable from the tests. */
export const RP = 'https://rp.example.com';

export interface PageSession {
  gh: RunningGatehouse;
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

/**
 * Registers the hooks a browser test file needs: one test Gatehouse and one browser for the file,
 * a fresh context and page for every test (closed after it). The returned object is filled in by
 * the hooks, so read it inside hooks and tests.
 */
export function usePageSession(): PageSession {
  const session = {} as PageSession;
  beforeAll(async () => {
    session.gh = await startTestGatehouse();
    session.browser = await launchBrowser();
  });
  afterAll(async () => {
    await session.browser?.close();
    await session.gh?.stop();
  });
  beforeEach(async () => {
    session.context = await newContext(session.browser);
    session.page = await session.context.newPage();
  });
  afterEach(() => session.context?.close());
  return session;
}

/** Debian's headless Chromium, with the flags this sandbox needs (no sandbox as root, no background traffic). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/**
 * A fresh browser context (its own cookies) per test. The relying party is answered in the
 * browser with a small page (see redirectToRp for redirects to it).
 */
export async function newContext(browser: Browser, width = 1280): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  await context.route(`${RP}/**`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!DOCTYPE html><title>rp</title><p>rp</p>',
    }),
  );
  return context;
}

export interface PageWatch {
  /** Every request the page made: URL, resource type (document, stylesheet, …). */
  requests: { url: string; type: string }[];
  /** Every document response (pages and the redirects between them). */
  documents: Response[];
  /** Console errors, script errors, failed or 4xx/5xx sub-resources (CSP violations are console errors). */
  problems(): string[];
}

/** Records what a page requests, which documents it receives, and everything that went wrong. */
export function watchPage(page: Page): PageWatch {
  const requests: PageWatch['requests'] = [];
  const documents: Response[] = [];
  const consoleErrors: { text: string; url: string }[] = [];
  const failures: string[] = [];
  page.on('request', (request) => requests.push({ url: request.url(), type: request.resourceType() }));
  page.on('response', (response) => {
    if (response.request().resourceType() === 'document') documents.push(response);
    else if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    // A redirect to the relying party is not routed and fails to resolve (see redirectToRp).
    if (!request.url().startsWith(`${RP}/`))
      failures.push(`${request.failure()?.errorText} ${request.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push({ text: message.text(), url: message.location().url });
  });
  page.on('pageerror', (error) => failures.push(error.message));
  return {
    requests,
    documents,
    problems() {
      // Chromium logs every 4xx document as "Failed to load resource"; pages that answer 4xx on
      // purpose (a failed sign-in is 401) are checked by their status. Sub-resources are in `failures`.
      const expected = (e: { text: string; url: string }) =>
        /^Failed to load resource: the server responded with a status of 4\d\d/.test(e.text) &&
        documents.some((d) => d.url() === e.url && d.status() >= 400);
      return [...consoleErrors.filter((e) => !expected(e)).map((e) => `${e.text} (${e.url})`), ...failures];
    },
  };
}

/** An authorization request for the web-app client (PKCE, state and nonce). */
export function authorizeUrl(issuer: string, extra: Record<string, string> = {}): string {
  return `${issuer}/authorize?${new URLSearchParams({
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
}

/**
 * Clicks a submit button, waits for the page it leads to (after any redirects) to load, and
 * returns the response to the form's POST itself.
 */
export async function submitForm(page: Page, button: string): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().resourceType() === 'document'),
    page.waitForEvent('load'),
    page.click(button),
  ]);
  return response;
}

/** Fills the sign-in form and submits it; returns the POST's response. */
export async function signInOnPage(
  page: Page,
  user: { username: string; password: string } = TEST_USERS.alice,
): Promise<Response> {
  await page.fill('input[name=username]', user.username);
  await page.fill('input[name=password]', user.password);
  return submitForm(page, 'button:has-text("Sign in")');
}

/**
 * Runs `action` and returns the URL the browser is then sent to at the relying party. Chromium
 * does not route a redirect's target, so that navigation fails (the host does not resolve) and
 * shows its error page; the page is then sent to the URL directly, which the route answers.
 */
export async function redirectToRp(page: Page, action: () => Promise<unknown>): Promise<URL> {
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${RP}/`)),
    page.waitForEvent(
      'framenavigated',
      (frame) =>
        frame === page.mainFrame() && /^(chrome-error:|https:\/\/rp\.example\.com\/)/.test(frame.url()),
    ),
    action().catch(() => undefined), // goto rejects when its navigation ends on the error page
  ]);
  if (!page.url().startsWith(`${RP}/`)) await page.goto(request.url());
  return new URL(request.url());
}

/** Starts a device authorization for the TV client, as the device itself would (no browser). */
export async function startDeviceAuthorization(
  issuer: string,
  scope = 'openid',
): Promise<{
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  interval: number;
}> {
  const res = await fetch(`${issuer}/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: TEST_CLIENTS.device.client_id, scope }).toString(),
  });
  if (res.status !== 200) throw new Error(`device_authorization answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Awaited<ReturnType<typeof startDeviceAuthorization>>;
}

/**
 * Approves (or denies) a device login in the browser as the user would: opens
 * verification_uri_complete (the code pre-filled), Continue, signs in unless the browser already
 * has a session, checks the approval page shows the same code, then Allow or Deny. Ends on the
 * page that follows ("Device connected", or the entry page saying the request was cancelled).
 */
export async function approveDeviceInBrowser(
  page: Page,
  verificationUriComplete: string,
  user: { username: string; password: string } = TEST_USERS.alice,
  decision: 'allow' | 'deny' = 'allow',
): Promise<string> {
  await page.goto(verificationUriComplete);
  const entered = await page.inputValue('input[name=user_code]');
  await submitForm(page, 'button:has-text("Continue")');
  if ((await page.locator('input[name=password]').count()) > 0) await signInOnPage(page, user);
  const shown = await page.locator('#user-code').textContent();
  if (shown !== entered) throw new Error(`approval page shows code ${shown}, not ${entered}`);
  await submitForm(page, decision === 'allow' ? 'button[name=confirm]' : 'button[name=abort]');
  return (await page.textContent('h1'))?.trim() ?? '';
}

/** Every kind of page Gatehouse shows, in the order visitEveryPage shows them. */
export const PAGES = [
  'login',
  'login-failed',
  'consent',
  'logout',
  'logout-success',
  'device-input',
  'device-wrong-code',
  'device-approval',
  'device-success',
  'error',
  'not-found',
  'form-refused',
] as const;
export type PageName = (typeof PAGES)[number];

/**
 * Walks one browser through every page: sign-in (failed, then as alice), consent, sign-out,
 * the device pages (a wrong code, then sign-in and the device approval page), the error page,
 * the 404 page and the page for a form posted without its anti-CSRF field. Calls `onPage` on each.
 */
export async function visitEveryPage(
  page: Page,
  issuer: string,
  onPage: (name: PageName) => Promise<void>,
): Promise<void> {
  await page.goto(authorizeUrl(issuer));
  await onPage('login');
  await signInOnPage(page, { username: 'alice', password: 'wrong password' });
  await onPage('login-failed');
  await signInOnPage(page);
  await onPage('consent');
  await redirectToRp(page, () => page.click('button:has-text("Allow")'));
  await page.goto(`${issuer}/logout`);
  await onPage('logout');
  await submitForm(page, 'button:has-text("Yes, sign me out")');
  await onPage('logout-success');

  const device = await startDeviceAuthorization(issuer);
  await page.goto(device.verification_uri);
  await onPage('device-input');
  await page.fill('input[name=user_code]', 'BCDF-GHJK');
  await submitForm(page, 'button:has-text("Continue")');
  await onPage('device-wrong-code');
  await page.fill('input[name=user_code]', device.user_code);
  await submitForm(page, 'button:has-text("Continue")');
  await signInOnPage(page);
  await onPage('device-approval');
  await submitForm(page, 'button:has-text("Allow")');
  await onPage('device-success');

  await page.goto(`${issuer}/authorize?client_id=no-such-client&response_type=code&scope=openid`);
  await onPage('error');
  await page.goto(`${issuer}/no-such-page`);
  await onPage('not-found');
  await page.goto(authorizeUrl(issuer, { prompt: 'login' }));
  await page.evaluate(() => document.querySelector('input[name=csrf]')?.remove());
  await signInOnPage(page);
  await onPage('form-refused');
}

export interface PageAudit {
  /** Visible form fields without a non-empty associated label. */
  unlabelled: string[];
  /** The first visible form field and the focused element, as `tag[name]` or the button's text. */
  firstField: string | undefined;
  focused: string | undefined;
  /** How far the page scrolls sideways (0 when it fits). */
  overflowX: number;
  /** Text (and buttons, inputs) whose contrast against its background is below 4.5:1. */
  lowContrast: string[];
  /** Fields and buttons whose border (or fill) stands out from their surroundings by less than 3:1. */
  weakBoundaries: string[];
}

/**
 * Basic accessibility checks, computed in the page: labels, focus, horizontal overflow, WCAG
 * contrast of every element that shows text and of the outlines of fields and buttons, from
 * their computed colours.
 */
export function auditPage(page: Page): Promise<PageAudit> {
  return page.evaluate(async () => {
    // Autofocus happens at the next rendering update after load, which may follow page.goto.
    await new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
    const visible = (el: Element) =>
      el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    const describe = (el: Element | null) =>
      !el || el === document.body
        ? undefined
        : el.getAttribute('name')
          ? `${el.tagName.toLowerCase()}[name=${el.getAttribute('name')}]`
          : `${el.tagName.toLowerCase()} "${el.textContent?.trim()}"`;
    const fields = [
      ...document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(
        'input:not([type=hidden]), textarea, select',
      ),
    ].filter(visible);
    const unlabelled = fields
      .filter(
        (f) => ![...(f.labels ?? [])].some((l) => l.textContent?.trim()) && !f.getAttribute('aria-label'),
      )
      .map((f) => describe(f)!);

    const channels = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const lin = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
    };
    /** The colour behind an element: its own background or its nearest ancestor's, composited over white. */
    const background = (el: Element | null): number[] => {
      const layers: number[][] = [];
      for (; el; el = el.parentElement) {
        const [r, g, b, a = 1] = channels(getComputedStyle(el).backgroundColor);
        if (a > 0) layers.push([r!, g!, b!, a]);
        if (a >= 1) break;
      }
      return layers.reduceRight(
        (under, [r, g, b, a]) => [r!, g!, b!].map((v, i) => v * a! + under[i]! * (1 - a!)),
        [255, 255, 255],
      );
    };
    const contrast = (colour: string, behind: number[]) => {
      const [r, g, b, a = 1] = channels(colour);
      const fg = [r!, g!, b!].map((v, i) => v * a + behind[i]! * (1 - a));
      const [hi, lo] = [luminance(fg), luminance(behind)].sort((x, y) => y - x);
      return (hi! + 0.05) / (lo! + 0.05);
    };
    const texty = [...document.body.querySelectorAll('*')].filter(
      (el) =>
        visible(el) &&
        (el.matches('button, input:not([type=hidden]), textarea') ||
          [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim())),
    );
    const lowContrast = texty
      .map((el) => ({ el, ratio: contrast(getComputedStyle(el).color, background(el)) }))
      .filter(({ ratio }) => ratio < 4.5)
      .map(({ el, ratio }) => `${describe(el)}: ${ratio.toFixed(2)}:1`);
    // A field or button is found by its outline: its border, or its own background, against
    // what surrounds it (WCAG 1.4.11, 3:1). Borderless link-style buttons are text, checked above.
    const weakBoundaries = [
      ...document.querySelectorAll('button, input:not([type=hidden]), textarea, select'),
    ]
      .filter(visible)
      .map((el) => {
        const style = getComputedStyle(el);
        const around = background(el.parentElement);
        const border = style.borderTopStyle === 'none' ? 0 : contrast(style.borderTopColor, around);
        const fill = contrast(style.backgroundColor, around);
        return { el, ratio: Math.max(border, fill), bordered: border > 0 || fill > 1 };
      })
      .filter(({ ratio, bordered }) => bordered && ratio < 3)
      .map(({ el, ratio }) => `${describe(el)}: ${ratio.toFixed(2)}:1`);

    return {
      unlabelled,
      firstField: describe(fields[0] ?? null),
      focused: describe(document.activeElement),
      overflowX: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      lowContrast,
      weakBoundaries,
    };
  });
}
