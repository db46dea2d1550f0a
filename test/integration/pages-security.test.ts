import type { Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { TEST_USERS } from '../support/gatehouse.js';
import {
  usePageSession,
  authorizeUrl,
  PAGES,
  redirectToRp,
  RP,
  signInOnPage,
  submitForm,
  visitEveryPage,
  watchPage,
  type PageName,
} from '../support/browser.js';

describe('the pages in a browser: framing, origins, console and forged forms', () => {
  const session = usePageSession();
  let gh: RunningGatehouse;
  let page: Page;
  beforeEach(() => ({ gh, page } = session));

  it('every page forbids framing, loads nothing from other origins and logs no errors', async () => {
    const watch = watchPage(page);
    const seen: { name: PageName; status: number; frameAncestors: boolean; xFrameOptions: string }[] = [];
    await visitEveryPage(page, gh.issuer, async (name) => {
      const response = watch.documents.findLast((d) => d.url() === page.url());
      const headers = await response!.allHeaders();
      seen.push({
        name,
        status: response!.status(),
        frameAncestors: headers['content-security-policy']?.includes("frame-ancestors 'none'") ?? false,
        xFrameOptions: headers['x-frame-options']!,
      });
    });
    const expectedStatus: Record<PageName, number> = {
      login: 200,
      'login-failed': 401,
      consent: 200,
      logout: 200,
      'logout-success': 200,
      'device-input': 200,
      'device-wrong-code': 400,
      'device-approval': 200,
      'device-success': 200,
      error: 400,
      'not-found': 404,
      'form-refused': 403,
    };
    expect(seen).toEqual(
      PAGES.map((name) => ({
        name,
        status: expectedStatus[name],
        frameAncestors: true,
        xFrameOptions: 'DENY',
      })),
    );

    // The redirects between pages carry the same headers.
    const origin = new URL(gh.issuer).origin;
    for (const document of watch.documents.filter((d) => d.url().startsWith(origin))) {
      const headers = await document.allHeaders();
      expect({ url: document.url(), xfo: headers['x-frame-options'] }).toEqual({
        url: document.url(),
        xfo: 'DENY',
      });
      expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }

    // Everything requested came from the issuer, but for the redirects back to the client.
    const elsewhere = watch.requests.filter((r) => new URL(r.url).origin !== origin);
    expect(elsewhere.filter((r) => !(r.type === 'document' && r.url.startsWith(`${RP}/cb?`)))).toEqual([]);
    expect(watch.requests.filter((r) => r.type !== 'document')).toEqual(
      expect.arrayContaining([{ url: `${origin}/assets/gatehouse.css`, type: 'stylesheet' }]),
    );
    // The only scripts are the passkey buttons' own two, from the issuer's /assets/.
    const scripts = new Set([`${origin}/assets/passkeys.js`, `${origin}/assets/simplewebauthn-browser.js`]);
    expect(
      watch.requests.filter(
        (r) => !['document', 'stylesheet'].includes(r.type) && !(r.type === 'script' && scripts.has(r.url)),
      ),
    ).toEqual([]);
    expect(watch.problems()).toEqual([]);
  });

  it('an image from another origin would be blocked by the policy and reported (the check above is not blind)', async () => {
    const watch = watchPage(page);
    await page.goto(authorizeUrl(gh.issuer));
    await Promise.all([
      page.waitForEvent('console', (message) => message.type() === 'error'),
      page.evaluate(() => {
        const img = document.createElement('img');
        img.src = 'https://cdn.example.org/tracker.png';
        document.body.append(img);
      }),
    ]);
    expect(watch.problems().join('\n')).toMatch(/violates the following Content Security Policy directive/);
    // The attempt is recorded as a request too, so the origin check would also see it.
    expect(watch.requests).toContainEqual({ url: 'https://cdn.example.org/tracker.png', type: 'image' });
  });

  it('a sign-in posted without its anti-CSRF field is refused with 403 and signs nobody in', async () => {
    await page.goto(authorizeUrl(gh.issuer));
    const action = await page.getAttribute('form:has(input[name=password])', 'action');
    // From the page itself, as a script on another tab of the same site could: no token, and a wrong one.
    const statuses = await page.evaluate(
      async ({ action, user }) => {
        const post = (fields: Record<string, string>) =>
          fetch(action, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' }).then(
            (r) => r.status,
          );
        return [await post(user), await post({ ...user, csrf: 'not-the-token' })];
      },
      { action: action!, user: { username: 'alice', password: TEST_USERS.alice.password } },
    );
    expect(statuses).toEqual([403, 403]);

    // And through the form with its field removed.
    await page.evaluate(() => document.querySelector('input[name=csrf]')?.remove());
    const refused = await signInOnPage(page);
    expect(refused.status()).toBe(403);
    expect(await page.textContent('[role=alert]')).toBe(
      'The form has expired or was not sent by this site. Go back and try again.',
    );

    const back = await redirectToRp(page, () => page.goto(authorizeUrl(gh.issuer, { prompt: 'none' })));
    expect(back.searchParams.get('error')).toBe('login_required');
  });

  it('a consent posted without its anti-CSRF field is refused with 403 and grants nothing', async () => {
    await page.goto(authorizeUrl(gh.issuer));
    await signInOnPage(page);
    await page.evaluate(() =>
      document.querySelectorAll('input[name=csrf]').forEach((input) => input.remove()),
    );
    expect((await submitForm(page, 'button:has-text("Allow")')).status()).toBe(403);

    const back = await redirectToRp(page, () => page.goto(authorizeUrl(gh.issuer, { prompt: 'none' })));
    expect(back.searchParams.get('error')).toBe('consent_required');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('form posts that succeed answer 303 (See Other), so reloading the next page does not post again', async () => {
    const posts: string[] = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST') {
        posts.push(
          `${new URL(r.url()).pathname.replace(/\/interaction\/[^/]+/, '/interaction/…')} ${r.status()}`,
        );
      }
    });
    await visitEveryPage(page, gh.issuer, async () => undefined);
    expect(posts).toEqual([
      '/interaction/…/login 401', // wrong password: the form again
      '/interaction/…/login 303',
      '/interaction/…/confirm 303',
      '/logout/confirm 303',
      '/device 400', // wrong code: the form again
      '/device 303', // the code is right: on to sign-in, then the device approval page
      '/interaction/…/login 303',
      '/interaction/…/confirm 303',
      '/interaction/…/login 403', // no anti-CSRF field
    ]);
  });
});
