import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startApache, type ApacheServer } from '../support/apache.js';
import { launchBrowser, signInOnPage, submitForm } from '../support/browser.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { freePort } from '../support/redis-server.js';

/**
 * Apache's mod_auth_openidc (Debian's build, installed by `.ci/run`) as a relying party nobody
 * here wrote, driven by Chromium: sign-in with GET and with POST authorization requests, and
 * its logout, which sends a matching id_token_hint and so must not meet a "Sign out?" page.
 * Apache is at http://127.0.0.1:<port> and Gatehouse at http://localhost:<port>: different
 * sites, so the POST from Apache's page is a cross-site form POST.
 */
describe('mod_auth_openidc as a relying party', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let port: number;
  const apaches: ApacheServer[] = [];

  const app = () => `http://127.0.0.1:${port}`;
  const loggedOut = () => `${app()}/loggedout.html`;

  beforeAll(async () => {
    port = await freePort();
    gh = await startTestGatehouse({
      overrides: {
        clients: [
          ...Object.values(TEST_CLIENTS),
          {
            client_id: 'apache',
            client_name: 'Apache',
            client_secret: 'apache-secret-0123456789',
            redirect_uris: [`${app()}/protected/redirect_uri`],
            post_logout_redirect_uris: [loggedOut()],
            grant_types: ['authorization_code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
      },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.stop();
  });
  afterEach(async () => {
    await Promise.all(apaches.splice(0).map((apache) => apache.stop()));
  });

  async function apacheWith(method: 'GET' | 'POST') {
    const apache = await startApache(
      port,
      `
OIDCProviderMetadataURL ${gh.issuer}/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret apache-secret-0123456789
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI ${app()}/protected/redirect_uri
OIDCCryptoPassphrase ${randomBytes(24).toString('hex')}
OIDCScope "openid email"
OIDCPKCEMethod S256
OIDCProviderAuthRequestMethod ${method}
OIDCSSLValidateServer Off
OIDCDefaultLoggedOutURL ${loggedOut()}
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`,
    );
    apaches.push(apache);
    return apache;
  }

  /** Opens the protected page, signs in and consents on Gatehouse's pages, lands on the page. */
  async function signInThroughApache(page: Page, apache: ApacheServer) {
    await page.goto(`${app()}/protected/secret.html`);
    await page.waitForSelector('input[name=username]').catch((err: Error) => {
      throw new Error(`no sign-in page at ${page.url()}: ${err.message}\n${apache.errorLog().slice(-4000)}`);
    });
    expect(new URL(page.url()).origin).toBe(gh.issuer);
    await signInOnPage(page);
    await submitForm(page, 'button:text-is("Allow")');
    await page.waitForURL(`${app()}/protected/secret.html`).catch((err: Error) => {
      throw new Error(
        `not back at Apache (${page.url()}): ${err.message}\n${apache.errorLog().slice(-4000)}`,
      );
    });
    expect(await page.textContent('p')).toBe('secret');
  }

  for (const method of ['GET', 'POST'] as const) {
    it(`signs in with ${method} authorization requests and logs out without a confirmation page`, async () => {
      const apache = await apacheWith(method);
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(10_000);
        const authorizeMethods: string[] = [];
        page.on('request', (request) => {
          // Not /authorize/<uid>, where the browser resumes after each page.
          if (request.url().split('?')[0] === `${gh.issuer}/authorize`)
            authorizeMethods.push(request.method());
        });
        await signInThroughApache(page, apache);
        // POST mode: Apache's page posts the request; Gatehouse answers 303 to the same GET.
        expect(authorizeMethods).toEqual(method === 'POST' ? ['POST', 'GET'] : ['GET']);

        // Single sign-on across sites: without Apache's session, the next request goes to
        // Gatehouse again (by POST in POST mode, cross-site), which sees its Lax session cookie
        // after the 303 and returns at once: no sign-in page.
        await context.clearCookies({ domain: '127.0.0.1' });
        authorizeMethods.length = 0;
        await page.goto(`${app()}/protected/secret.html`);
        await page.waitForURL(`${app()}/protected/secret.html`);
        expect(await page.textContent('p')).toBe('secret');
        expect(authorizeMethods).toEqual(method === 'POST' ? ['POST', 'GET'] : ['GET']);

        const endSessionHints: (string | null)[] = [];
        page.on('request', (request) => {
          const url = new URL(request.url());
          if (`${url.origin}${url.pathname}` === `${gh.issuer}/logout`) {
            endSessionHints.push(url.searchParams.get('id_token_hint'));
          }
        });
        const gatehousePages: string[] = [];
        page.on('response', (response) => {
          if (response.url().startsWith(gh.issuer) && response.status() === 200)
            gatehousePages.push(response.url());
        });
        await page.goto(`${app()}/protected/redirect_uri?logout=${encodeURIComponent(loggedOut())}`);
        await page.waitForURL(loggedOut());
        expect(endSessionHints).toEqual([expect.stringMatching(/^ey/)]);
        expect(gatehousePages).toEqual([]);

        // Signed out at both: the protected page sends the browser to Gatehouse's sign-in again.
        // A URL the browser has not loaded yet: Apache serves the static page without
        // Cache-Control, so the earlier copy could come from Chromium's cache, not from Apache.
        await page.goto(`${app()}/protected/secret.html?after=logout`);
        // Generous: on a loaded machine the auto-submitted POST form, the 303 and the page take a while.
        await page.waitForSelector('input[name=username]', { timeout: 30_000 }).catch(async (err: Error) => {
          const body = ((await page.textContent('body').catch(() => '')) ?? '').slice(0, 500);
          throw new Error(`no sign-in page after logout at ${page.url()} (${body}): ${err.message}`);
        });
        expect(new URL(page.url()).origin).toBe(gh.issuer);
      } finally {
        await context.close();
      }
    }, 60_000);
  }
});
