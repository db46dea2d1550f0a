import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import * as client from 'openid-client';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import {
  auditPage,
  launchBrowser,
  newContext,
  redirectToRp,
  signInOnPage,
  submitForm,
  watchPage,
} from '../support/browser.js';
import { discover } from '../support/rp-client.js';
import { ACR_PHISHING_RESISTANT, KNOWN_ACR_VALUES } from '../../src/mfa/acr.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { linesSink } from '../support/log-lines.js';

/**
 * Passkeys through the pages, in Chromium with a virtual authenticator (CDP WebAuthn domain:
 * ctap2, internal transport, resident keys, user verification). WebAuthn refuses an IP address as
 * the relying-party id, so the issuer is http://localhost:<port> (the test Gatehouse's default).
 */
const SHOTS = '/tmp/gatehouse-shots';
const FRESH_SECONDS = 3;
const PASSWORD = 'correct horse battery staple';
const user = (n: number) => ({
  username: `pia${n}`,
  password: PASSWORD,
  claims: { sub: `pia-${n}`, name: `Pia ${n}` },
});
const creds = (n: number) => ({ username: `pia${n}`, password: PASSWORD });
// A client that needs two factors: a passkey sign-in alone satisfies it.
const STRICT = { ...TEST_CLIENTS.web, client_id: 'strict-app', client_name: 'Strict App', require_mfa: true };

interface Authenticator {
  cdp: CDPSession;
  id: string;
}

/** Attaches a virtual platform authenticator (resident keys, user verification) to the page. */
async function addAuthenticator(page: Page): Promise<Authenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

describe.each(['memory', 'redis'] as const)('passkeys in Chromium (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let browser: Browser;
  let context: BrowserContext | undefined;
  const lines: string[] = [];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    if (kind === 'redis') redis = await startRedisServer();
    const sink = linesSink(lines);
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      logger: pino({ level: 'info' }, sink),
      overrides: {
        users: [1, 2, 3, 4, 5, 6, 7, 8, 9].map(user),
        clients: [...Object.values(TEST_CLIENTS), STRICT],
        mfa: { freshSignInSeconds: FRESH_SECONDS },
        acrValues: [...KNOWN_ACR_VALUES],
      },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.stop();
    await redis?.destroy();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function openPage(width = 1280): Promise<Page> {
    context = await newContext(browser, width);
    return context.newPage();
  }

  /** Signs in to /account with the password. */
  async function openAccount(page: Page, n: number) {
    await page.goto(`${gh.issuer}/account`);
    await signInOnPage(page, creds(n));
    expect(page.url()).toBe(`${gh.issuer}/account`);
  }

  /** Adds a passkey on the account page (named `name`); returns the notice shown. */
  async function addPasskey(page: Page, name = '') {
    if (name) await page.fill('input[name=name]', name);
    const response = await submitForm(page, 'button[name=add-passkey]');
    return { status: response.status(), notice: await page.textContent('#account-notice') };
  }

  /** An authorization request of `registered` with PKCE, state and nonce, built by openid-client. */
  async function rpRequest(
    registered: { client_id: string; client_secret: string },
    extra: Record<string, string> = {},
  ) {
    const config = await discover(gh.issuer, registered, client.ClientSecretBasic(registered.client_secret));
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: TEST_CLIENTS.web.redirect_uris[0],
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return {
      url: url.href,
      redeem: (callback: URL) =>
        client.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: verifier,
          expectedState: state,
          expectedNonce: nonce,
        }),
    };
  }

  it('enrols a passkey on /account, then signs in with it alone to a client that needs two factors', async () => {
    expect(new URL(gh.issuer).hostname).toBe('localhost');
    const page = await openPage();
    const watch = watchPage(page);
    await addAuthenticator(page);
    await openAccount(page, 1);
    expect(await page.textContent('#passkeys-none')).toContain('no passkeys');
    expect(await addPasskey(page, 'Laptop')).toEqual({ status: 200, notice: 'Passkey "Laptop" added.' });
    expect(await page.locator('#passkeys .passkey-name').allTextContents()).toEqual(['Laptop']);
    const stored = await gh.store.getRecord<{ userHandle: string; credentials: { id: string }[] }>(
      'passkeys:pia-1',
    );
    expect(stored!.credentials).toHaveLength(1);
    // The user handle is random, never the username or sub.
    expect(Buffer.from(stored!.userHandle, 'base64url')).toHaveLength(32);
    expect(lines.some((l) => l.includes('"event":"mfa.passkey_added"') && l.includes('"sub":"pia-1"'))).toBe(
      true,
    );

    // A new sign-in: no session, no username, no password; no code page although the client requires two factors.
    await context!.clearCookies();
    const rp = await rpRequest(STRICT);
    await page.goto(rp.url);
    expect(await page.title()).toBe('Sign in · Gatehouse');
    await submitForm(page, 'button[name=passkey]');
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    expect(await page.textContent('h1')).toBe('Allow access?');
    const callback = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    const tokens = await rp.redeem(callback).catch((err: { cause?: unknown }) => {
      throw new Error(JSON.stringify(err.cause));
    });
    expect(tokens.claims()).toMatchObject({
      sub: 'pia-1',
      amr: ['hwk', 'user', 'mfa'],
      acr: ACR_PHISHING_RESISTANT,
    });
    expect(watch.problems()).toEqual([]);
    const scripts = watch.requests.filter((r) => r.type === 'script').map((r) => new URL(r.url));
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.every((u) => u.origin === gh.issuer)).toBe(true);
    expect(lines.some((l) => l.includes('"event":"mfa.success"') && l.includes('"method":"passkey"'))).toBe(
      true,
    );
  }, 90_000);

  it('keeps several passkeys per user; each signs in; the same authenticator is not registered twice', async () => {
    const page = await openPage();
    const first = await addAuthenticator(page);
    await openAccount(page, 2);
    await addPasskey(page, 'Phone');
    // The same authenticator again: excluded by the options, so nothing is added.
    const again = await addPasskey(page);
    expect(again.status).toBe(400);
    expect(again.notice).toContain('No passkey was added');
    const { credentials } = await first.cdp.send('WebAuthn.getCredentials', { authenticatorId: first.id });
    await first.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first.id });
    const second = await addAuthenticator(page);
    expect(await addPasskey(page, 'Security key')).toMatchObject({ status: 200 });
    expect(await page.locator('#passkeys .passkey-name').allTextContents()).toEqual([
      'Phone',
      'Security key',
    ]);

    // Sign in with the second, then with the first (put back on a new authenticator).
    for (const which of ['second', 'first'] as const) {
      await context!.clearCookies();
      if (which === 'first') {
        await second.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: second.id });
        const back = await addAuthenticator(page);
        await back.cdp.send('WebAuthn.addCredential', {
          authenticatorId: back.id,
          credential: credentials[0]!,
        });
      }
      await page.goto(`${gh.issuer}/account`);
      await submitForm(page, 'button[name=passkey]');
      expect(page.url()).toBe(`${gh.issuer}/account`);
      expect(await page.textContent('.lead strong')).toBe('Pia 2');
    }
    const used = await gh.store.getRecord<{ credentials: { lastUsedAt?: number }[] }>('passkeys:pia-2');
    expect(used!.credentials.every((c) => typeof c.lastUsedAt === 'number')).toBe(true);
  }, 90_000);

  it('removes a passkey only after a fresh sign-in; a removed passkey no longer signs in', async () => {
    const page = await openPage();
    await addAuthenticator(page);
    await openAccount(page, 3);
    await addPasskey(page, 'Old phone');
    await new Promise((r) => setTimeout(r, (FRESH_SECONDS + 1) * 1000));
    await submitForm(page, 'button[name=remove-passkey]');
    // Not fresh: sign in again (here with the passkey itself), and confirm again.
    expect(await page.title()).toBe('Sign in · Gatehouse');
    expect(await gh.store.getRecord('passkeys:pia-3')).toMatchObject({
      credentials: [{ name: 'Old phone' }],
    });
    await submitForm(page, 'button[name=passkey]');
    expect(page.url()).toBe(`${gh.issuer}/account`);
    await submitForm(page, 'button[name=remove-passkey]');
    expect(await page.textContent('#account-notice')).toBe('Passkey "Old phone" removed.');
    expect(await page.textContent('#passkeys-none')).toContain('no passkeys');
    expect(
      lines.some((l) => l.includes('"event":"mfa.passkey_removed"') && l.includes('"sub":"pia-3"')),
    ).toBe(true);

    // The authenticator still holds the key, but Gatehouse no longer knows it.
    await context!.clearCookies();
    await page.goto(`${gh.issuer}/account`);
    const refused = await submitForm(page, 'button[name=passkey]');
    expect(refused.status()).toBe(401);
    expect(await page.textContent('[role=alert]')).toContain('could not be used');
    expect(await page.title()).toBe('Sign in · Gatehouse');
  }, 90_000);

  it('offers the passkey as the second step after a password', async () => {
    const page = await openPage();
    await addAuthenticator(page);
    await openAccount(page, 4);
    await addPasskey(page);
    await context!.clearCookies();
    const rp = await rpRequest(TEST_CLIENTS.web);
    await page.goto(rp.url);
    await signInOnPage(page, creds(4));
    expect(await page.title()).toBe('Two-step verification · Gatehouse');
    // A passkey is the user's only factor: no code field.
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    await submitForm(page, 'button[name=passkey]');
    const callback = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    expect((await rp.redeem(callback)).claims()).toMatchObject({
      sub: 'pia-4',
      amr: ['pwd', 'hwk', 'user', 'mfa'],
    });
  }, 90_000);

  it('steps up to phr: acr_values=phr asks for the passkey and the ID token says acr phr', async () => {
    const page = await openPage();
    await addAuthenticator(page);
    await openAccount(page, 9);
    await addPasskey(page);
    await context!.clearCookies();
    const rp = await rpRequest(TEST_CLIENTS.web, { acr_values: ACR_PHISHING_RESISTANT });
    await page.goto(rp.url);
    await signInOnPage(page, creds(9));
    expect(await page.title()).toBe('Two-step verification · Gatehouse');
    expect(await page.locator('input[name=otp]').count()).toBe(0);
    await submitForm(page, 'button[name=passkey]');
    const callback = await redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
    expect((await rp.redeem(callback)).claims()).toMatchObject({
      sub: 'pia-9',
      acr: ACR_PHISHING_RESISTANT,
      amr: ['pwd', 'hwk', 'user', 'mfa'],
    });
  }, 90_000);

  if (kind === 'memory') {
    it.each([
      [375, 5],
      [1280, 8],
    ])(
      'at %ipx the pages with passkeys pass the audit',
      async (width, n) => {
        const page = await openPage(width);
        const watch = watchPage(page);
        await addAuthenticator(page);
        await page.goto(`${gh.issuer}/account`);
        await page.locator('button[name=passkey]').waitFor({ state: 'visible' });
        const audits = [await auditPage(page)];
        await page.screenshot({ path: `${SHOTS}/passkey-login-${width}.png`, fullPage: true });
        await signInOnPage(page, creds(n));
        await addPasskey(page, `Device at ${width}`);
        audits.push(await auditPage(page));
        await page.screenshot({ path: `${SHOTS}/passkey-account-${width}.png`, fullPage: true });
        await context!.clearCookies();
        await page.goto(`${gh.issuer}/account`);
        await signInOnPage(page, creds(n));
        await page.locator('button[name=passkey]').waitFor({ state: 'visible' });
        audits.push(await auditPage(page));
        await page.screenshot({ path: `${SHOTS}/passkey-second-factor-${width}.png`, fullPage: true });
        for (const audit of audits) {
          expect(audit).toMatchObject({ unlabelled: [], overflowX: 0, lowContrast: [], weakBoundaries: [] });
        }
        expect(watch.problems()).toEqual([]);
      },
      90_000,
    );

    it('can be used with the keyboard alone: Tab and Enter add a passkey and sign in with it', async () => {
      const page = await openPage();
      await addAuthenticator(page);
      await openAccount(page, 6);
      const tabTo = async (name: string) => {
        let focused = '';
        for (let i = 0; i < 20 && focused !== name; i += 1) {
          await page.keyboard.press('Tab');
          focused = (await page.evaluate(() => document.activeElement?.getAttribute('name'))) ?? '';
        }
        expect(focused).toBe(name);
      };
      await tabTo('add-passkey');
      await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
      expect(await page.textContent('#account-notice')).toBe('Passkey "Passkey 1" added.');
      await context!.clearCookies();
      await page.goto(`${gh.issuer}/account`);
      await page.locator('button[name=passkey]').waitFor({ state: 'visible' });
      await tabTo('passkey');
      await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
      expect(page.url()).toBe(`${gh.issuer}/account`);
    }, 90_000);

    it('without JavaScript shows no passkey button and the password still works', async () => {
      context = await browser.newContext({
        javaScriptEnabled: false,
        viewport: { width: 1280, height: 800 },
      });
      const page = await context.newPage();
      const watch = watchPage(page);
      await page.goto(`${gh.issuer}/account`);
      expect(await page.locator('button[name=passkey]').count()).toBe(1);
      expect(await page.locator('button[name=passkey]').isVisible()).toBe(false);
      await signInOnPage(page, creds(7));
      expect(page.url()).toBe(`${gh.issuer}/account`);
      expect(await page.locator('button[name=add-passkey]').isVisible()).toBe(false);
      expect(await page.textContent('noscript')).toContain('needs JavaScript');
      expect(watch.problems()).toEqual([]);
    }, 90_000);
  }
});
