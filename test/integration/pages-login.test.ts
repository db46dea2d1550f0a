import type { Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { TEST_USERS } from '../support/gatehouse.js';
import { usePageSession, authorizeUrl, redirectToRp, signInOnPage, submitForm } from '../support/browser.js';

describe('signing in, consenting and signing out in a browser', () => {
  const session = usePageSession();
  let gh: RunningGatehouse;
  let page: Page;
  beforeEach(() => ({ gh, page } = session));

  /** Signs alice in and allows the web app, leaving the browser with a session. */
  async function signInAndAllow() {
    await page.goto(authorizeUrl(gh.issuer));
    await signInOnPage(page);
    return redirectToRp(page, () => submitForm(page, 'button:has-text("Allow")'));
  }

  it('shows a sign-in form with labelled fields and an anti-CSRF field, in a page that declares its language', async () => {
    const response = await page.goto(authorizeUrl(gh.issuer));
    expect(response!.status()).toBe(200);
    expect(page.url()).toMatch(new RegExp(`^${gh.issuer}/interaction/[\\w-]+$`));
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.title()).toBe('Sign in · Gatehouse');
    expect(await page.textContent('h1')).toBe('Sign in');

    const form = page.locator('form', { has: page.locator('input[name=password]') });
    expect(await form.getAttribute('method')).toBe('post');
    expect(await form.locator('input[name=username]').getAttribute('type')).toBe('text');
    expect(await form.locator('input[name=username]').inputValue()).toBe('');
    expect(await form.locator('input[name=password]').getAttribute('type')).toBe('password');
    expect(await form.locator('input[name=username]').getAttribute('autocomplete')).toBe('username');
    expect(await form.locator('input[name=password]').getAttribute('autocomplete')).toBe('current-password');
    const csrf = form.locator('input[name=csrf]');
    expect(await csrf.getAttribute('type')).toBe('hidden');
    expect(await csrf.inputValue()).toMatch(/^[\w-]{40,}$/);

    // Each field's label is tied to it (clicking the label focuses the field; screen readers read it).
    const labels = await page.$$eval('input:not([type=hidden])', (inputs) =>
      inputs.map((input) => [
        input.getAttribute('name'),
        [...((input as HTMLInputElement).labels ?? [])].map((l) => l.textContent?.trim()),
      ]),
    );
    expect(labels).toEqual([
      ['username', ['Username']],
      ['password', ['Password']],
    ]);
    await page.click('label[for=password]');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('password');
    expect(await page.locator('form button:has-text("Cancel")').count()).toBe(1);
  });

  it('fills in the username from login_hint', async () => {
    await page.goto(authorizeUrl(gh.issuer, { login_hint: 'alice' }));
    expect(await page.inputValue('input[name=username]')).toBe('alice');
    expect(await page.inputValue('input[name=password]')).toBe('');
  });

  it('answers a wrong password and an unknown username alike: the same generic message, the form again', async () => {
    await page.goto(authorizeUrl(gh.issuer));
    const pages: { status: number; alert: string | null; username: string; password: string }[] = [];
    for (const attempt of [
      { username: 'alice', password: 'not her password' },
      { username: 'nobody-here', password: 'not her password' },
    ]) {
      const response = await signInOnPage(page, attempt);
      pages.push({
        status: response.status(),
        alert: await page.textContent('[role=alert]'),
        username: await page.inputValue('input[name=username]'),
        password: await page.inputValue('input[name=password]'),
      });
      // The form can be used again straight away: it has a fresh anti-CSRF field.
      expect(await page.locator('form input[type=hidden][name=csrf]').first().inputValue()).not.toBe('');
    }
    expect(pages).toEqual([
      { status: 401, alert: 'Incorrect username or password.', username: 'alice', password: '' },
      { status: 401, alert: 'Incorrect username or password.', username: 'nobody-here', password: '' },
    ]);

    // And then the right password still signs in.
    const response = await signInOnPage(page, TEST_USERS.alice);
    expect(response.status()).toBe(303);
    expect(await page.textContent('h1')).toBe('Allow access?');
  });

  it('signs in, asks for consent, and sends the code and state back to the client', async () => {
    await page.goto(authorizeUrl(gh.issuer, { state: 'state-from-the-client' }));
    const login = await signInOnPage(page);
    expect(login.status()).toBe(303);

    expect(await page.textContent('h1')).toBe('Allow access?');
    expect(await page.textContent('main')).toContain('Web App');
    expect(await page.$$eval('.scopes li', (items) => items.map((li) => li.textContent))).toEqual([
      'Know who you are (your account identifier)',
      'See your name and basic profile',
      'See your email address',
    ]);
    const approve = page.locator('form button[type=submit]', { hasText: 'Allow' });
    const deny = page.locator('form button[type=submit]', { hasText: 'Deny' });
    expect(await approve.count()).toBe(1);
    expect(await deny.count()).toBe(1);
    // Both buttons post with the anti-CSRF field.
    expect(await page.locator('form:has(button) input[type=hidden][name=csrf]').count()).toBe(2);

    let confirm: number | undefined;
    const back = await redirectToRp(page, async () => {
      confirm = (await submitForm(page, 'button:has-text("Allow")')).status();
    });
    expect(confirm).toBe(303);
    expect(back.origin + back.pathname).toBe('https://rp.example.com/cb');
    expect(back.searchParams.get('code')).toMatch(/^[\w-]{20,}$/);
    expect(back.searchParams.get('state')).toBe('state-from-the-client');
    expect(back.searchParams.get('iss')).toBe(gh.issuer);
    expect(back.searchParams.get('error')).toBeNull();
  });

  it('sends access_denied back to the client when the user denies', async () => {
    await page.goto(authorizeUrl(gh.issuer));
    await signInOnPage(page);
    let deny: number | undefined;
    const back = await redirectToRp(page, async () => {
      deny = (await submitForm(page, 'button:has-text("Deny")')).status();
    });
    expect(deny).toBe(303);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('st-123');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('sends access_denied back to the client when the user cancels signing in', async () => {
    await page.goto(authorizeUrl(gh.issuer));
    const back = await redirectToRp(page, () => submitForm(page, 'button:has-text("Cancel")'));
    expect(back.searchParams.get('error')).toBe('access_denied');
  });

  it('asks before signing out, with a sign-out and a cancel button; signing out ends the session', async () => {
    await signInAndAllow();
    const response = await page.goto(`${gh.issuer}/logout`);
    expect(response!.status()).toBe(200);
    expect(await page.textContent('h1')).toBe('Sign out');
    const form = page.locator('form', { has: page.locator('button') });
    expect(await form.locator('input[type=hidden][name=xsrf]').inputValue()).not.toBe('');
    expect(await form.locator('button[type=submit]', { hasText: 'Yes, sign me out' }).count()).toBe(1);
    expect(await form.locator('button[type=submit]', { hasText: 'Cancel' }).count()).toBe(1);

    const confirm = await submitForm(page, 'button:has-text("Yes, sign me out")');
    expect(confirm.status()).toBe(303);
    expect(await page.textContent('h1')).toBe('Signed out');
    expect(await page.textContent('.lead')).toBe('You are signed out.');
    const back = await redirectToRp(page, () => page.goto(authorizeUrl(gh.issuer, { prompt: 'none' })));
    expect(back.searchParams.get('error')).toBe('login_required');
  });

  it('keeps the user signed in, and says so, when they cancel signing out', async () => {
    await signInAndAllow();
    await page.goto(`${gh.issuer}/logout`);
    await submitForm(page, 'button:has-text("Cancel")');
    expect(await page.textContent('h1')).toBe('Still signed in');
    expect(await page.textContent('.lead')).toBe('You are still signed in. Nothing was changed.');
    const back = await redirectToRp(page, () => page.goto(authorizeUrl(gh.issuer, { prompt: 'none' })));
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
  });
});
