import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { readButtons, readForm, UserAgent } from '../support/browserless.js';
import { discover } from '../support/rp-client.js';

const TV = TEST_CLIENTS.device;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DEFAULT_TTL = (
  JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as {
    ttl: Record<string, number>;
  }
).ttl;
/** A user code as configured: base-20 characters (no vowels), masked ****-**** (RFC 8628 §6.1). */
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The device's side of a poll, sent by hand (openid-client's poller waits the interval out). */
async function poll(issuer: string, deviceCode: string) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: DEVICE_CODE_GRANT,
      device_code: deviceCode,
      client_id: TV.client_id,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What the user sees on the way: each page's HTML, from the code entry page to the last one. */
interface DevicePages {
  entry: string;
  login: string;
  /** The device approval page: the code to compare, what is asked for, Allow and Deny. */
  approval: string;
  last: string;
}

/** The user, in a browser of their own, opens verification_uri_complete, signs in, and allows or denies. */
async function decideOnPages(
  issuer: string,
  uriComplete: string,
  decision: 'approve' | 'deny',
): Promise<DevicePages> {
  const ua = new UserAgent(issuer);
  const next = async (
    page: { url: string },
    html: string,
    fields: Record<string, string> = {},
    index = 0,
  ) => {
    const form = readForm(html, index);
    return ua.submit(new URL(form.action, page.url).href, { ...form.fields, ...fields });
  };
  const entryPage = await ua.follow(uriComplete);
  const entry = await entryPage.res.text();
  const loginPage = await next(entryPage, entry);
  const login = await loginPage.res.text();
  const { username, password } = TEST_USERS.alice;
  const approvalPage = await next(loginPage, login, { username, password });
  const approval = await approvalPage.res.text();
  const lastPage = await next(approvalPage, approval, {}, decision === 'approve' ? 0 : 1);
  return { entry, login, approval, last: await lastPage.res.text() };
}

describe('device authorization grant (RFC 8628) with openid-client', () => {
  describe('POST /device_authorization (configured defaults)', () => {
    let gh: RunningGatehouse;
    let tv: client.Configuration;
    beforeAll(async () => {
      gh = await startTestGatehouse();
      tv = await discover(gh.issuer, TV, client.None());
    });
    afterAll(() => gh?.stop());

    it('answers a device code, a user code, both verification URIs, expires_in and interval 5', async () => {
      expect(tv.serverMetadata().device_authorization_endpoint).toBe(`${gh.issuer}/device_authorization`);
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid email' });
      expect(auth).toEqual({
        device_code: expect.any(String),
        user_code: expect.stringMatching(USER_CODE),
        verification_uri: `${gh.issuer}/device`,
        verification_uri_complete: `${gh.issuer}/device?user_code=${encodeURIComponent(auth.user_code)}`,
        expires_in: 600,
        interval: 5,
      });
      expect(auth.verification_uri.endsWith('/device')).toBe(true);
    });

    it('answers authorization_pending to the first poll, then slow_down, 5 s slower each time', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
      expect(await poll(gh.issuer, auth.device_code)).toEqual({
        status: 400,
        body: expect.objectContaining({ error: 'authorization_pending' }),
      });
      const second = await poll(gh.issuer, auth.device_code);
      expect(second).toEqual({ status: 400, body: expect.objectContaining({ error: 'slow_down' }) });
      expect(second.body.error_description).toMatch(/\b10 seconds\b/);
      const third = await poll(gh.issuer, auth.device_code);
      expect(third.body.error).toBe('slow_down');
      expect(third.body.error_description).toMatch(/\b15 seconds\b/);
    });

    it('answers invalid_grant for a device code it never issued', async () => {
      expect(await poll(gh.issuer, 'never-issued')).toEqual({
        status: 400,
        body: expect.objectContaining({ error: 'invalid_grant' }),
      });
    });
  });

  describe('approving or denying on the /device pages (1 s interval)', () => {
    let gh: RunningGatehouse;
    let tv: client.Configuration;
    beforeAll(async () => {
      gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
      tv = await discover(gh.issuer, TV, client.None());
    });
    afterAll(() => gh?.stop());

    it('still slows a poll down once the interval has grown, although 1 s has passed', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
      expect(auth.interval).toBe(1);
      expect((await poll(gh.issuer, auth.device_code)).body.error).toBe('authorization_pending');
      expect((await poll(gh.issuer, auth.device_code)).body.error).toBe('slow_down'); // interval now 6 s
      await sleep(1200);
      expect((await poll(gh.issuer, auth.device_code)).body.error).toBe('slow_down');
    });

    it('walks entry (pre-filled) → sign in → one approval page → success, and the poll yields tokens', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid email offline_access' });
      const pages = await decideOnPages(gh.issuer, auth.verification_uri_complete!, 'approve');

      expect(readForm(pages.entry)).toEqual({
        action: `${gh.issuer}/device`,
        fields: { xsrf: expect.stringMatching(/.+/), confirm: 'yes', user_code: auth.user_code },
      });
      expect(pages.login).toMatch(/name="password"/);
      expect(pages.login).toContain(TV.client_name);
      expect(pages.approval).toContain('Allow access on a device?');
      expect(pages.approval).toContain(TV.client_name);
      expect(pages.approval).toContain(`<code id="user-code">${auth.user_code}</code>`);
      expect(pages.approval).toContain('See your email address');
      expect(pages.approval).toContain('id="keeps-access"');
      expect(readButtons(pages.approval, 0)).toEqual([{ name: 'confirm', value: 'yes', label: 'Allow' }]);
      expect(readButtons(pages.approval, 1)).toEqual([{ name: 'abort', value: 'yes', label: 'Deny' }]);
      expect(readForm(pages.approval, 0)).toEqual({
        action: expect.stringMatching(/^\/interaction\/[^/]+\/confirm$/),
        fields: { csrf: expect.stringMatching(/.+/) },
      });
      expect(readForm(pages.approval, 1)).toEqual({
        action: expect.stringMatching(/^\/interaction\/[^/]+\/abort$/),
        fields: { csrf: expect.stringMatching(/.+/) },
      });
      expect(pages.last).toMatch(/Device connected/);

      const tokens = await client.pollDeviceAuthorizationGrant(tv, auth);
      expect(tokens).toMatchObject({
        token_type: 'bearer',
        expires_in: 3600,
        scope: 'openid email offline_access',
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        id_token: expect.any(String),
      });
      expect(tokens.claims()).toMatchObject({ iss: gh.issuer, aud: TV.client_id, sub: 'alice-0001' });
      expect(await client.fetchUserInfo(tv, tokens.access_token, 'alice-0001')).toEqual({
        sub: 'alice-0001',
        email: 'alice@example.com',
        email_verified: true,
      });
      const refreshed = await client.refreshTokenGrant(tv, tokens.refresh_token!);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    });

    it('issues no refresh token without offline_access', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid email' });
      await decideOnPages(gh.issuer, auth.verification_uri_complete!, 'approve');
      const tokens = await client.pollDeviceAuthorizationGrant(tv, auth);
      expect(tokens.scope).toBe('openid email');
      expect(tokens.id_token).toEqual(expect.any(String));
      expect(tokens.refresh_token).toBeUndefined();
    });

    it('answers the device invalid_grant once its code has been redeemed', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
      await decideOnPages(gh.issuer, auth.verification_uri_complete!, 'approve');
      await client.pollDeviceAuthorizationGrant(tv, auth);
      expect((await poll(gh.issuer, auth.device_code)).body.error).toBe('invalid_grant');
    });

    it('answers access_denied when the user denies on the approval page', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
      const pages = await decideOnPages(gh.issuer, auth.verification_uri_complete!, 'deny');
      expect(pages.approval).not.toContain('id="keeps-access"');
      expect(pages.last).toContain('The sign-in request was cancelled.');
      expect(pages.last).not.toMatch(/name="password"/);
      await expect(client.pollDeviceAuthorizationGrant(tv, auth)).rejects.toMatchObject({
        error: 'access_denied',
        status: 400,
      });
    });
  });

  describe('a device code left to expire (ttl.deviceCode 2 s)', () => {
    let gh: RunningGatehouse;
    let tv: client.Configuration;
    beforeAll(async () => {
      gh = await startTestGatehouse({
        overrides: { deviceFlow: FAST_DEVICE_FLOW, ttl: { ...DEFAULT_TTL, deviceCode: 2 } },
      });
      tv = await discover(gh.issuer, TV, client.None());
    });
    afterAll(() => gh?.stop());

    it('answers expired_token once expires_in has passed', async () => {
      const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
      expect(auth.expires_in).toBe(2);
      expect((await poll(gh.issuer, auth.device_code)).body.error).toBe('authorization_pending');
      await sleep(2500);
      expect(await poll(gh.issuer, auth.device_code)).toEqual({
        status: 400,
        body: expect.objectContaining({ error: 'expired_token' }),
      });
      await expect(client.pollDeviceAuthorizationGrant(tv, auth)).rejects.toMatchObject({
        error: 'expired_token',
      });
    });
  });
});
