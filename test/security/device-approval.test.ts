import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { startDeviceAuthorization } from '../support/browser.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Trust boundary: a device code becomes tokens only when the signed-in user chose Allow on the
 * device approval page for that very code (RFC 8628 §5.4, remote phishing). Sign-in alone, an
 * existing session, a forged or replayed form, or a second Allow never approve one.
 */
describe.each(['memory', 'redis'])('approving a device code (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: kind === 'redis' ? { REDIS_URL: redis!.url } : {},
      overrides: { deviceFlow: FAST_DEVICE_FLOW },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  async function poll(deviceCode: string) {
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: DEVICE_CODE_GRANT,
        device_code: deviceCode,
        client_id: TEST_CLIENTS.device.client_id,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Enters the code and signs in (unless the agent has a session); returns the approval page. */
  async function reachApproval(ua: UserAgent, uriComplete: string) {
    const entry = await ua.follow(uriComplete);
    const entryForm = readForm(await entry.res.text());
    let page = await ua.submit(new URL(entryForm.action, gh.issuer).href, entryForm.fields);
    let html = await page.res.text();
    if (/name="password"/.test(html)) {
      const form = readForm(html);
      page = await ua.submit(new URL(form.action, page.url).href, {
        ...form.fields,
        username: TEST_USERS.alice.username,
        password: TEST_USERS.alice.password,
      });
      html = await page.res.text();
    }
    expect(html).toContain('Allow access on a device?');
    return {
      url: page.url,
      html,
      allow: readForm(html, 0),
      deny: readForm(html, 1),
    };
  }

  const post = (ua: UserAgent, action: string, fields: Record<string, string>) =>
    ua.request(new URL(action, gh.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  it('signing in does not approve the code: the device waits until Allow, then gets tokens once', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const approval = await reachApproval(ua, device.verification_uri_complete);
    expect(approval.html).toContain(`<code id="user-code">${device.user_code}</code>`);
    expect((await poll(device.device_code)).body.error).toBe('authorization_pending');

    const allowed = await ua.submit(new URL(approval.allow.action, gh.issuer).href, approval.allow.fields);
    expect(await allowed.res.text()).toContain('Device connected');
    expect((await poll(device.device_code)).status).toBe(200);
    expect((await poll(device.device_code)).body.error).toBe('invalid_grant');
  });

  it('refuses Allow without the anti-CSRF field or with a wrong one, and the code stays unapproved', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const approval = await reachApproval(ua, device.verification_uri_complete);
    const forged: Record<string, string>[] = [{ confirm: 'yes' }, { confirm: 'yes', csrf: 'forged' }];
    for (const fields of forged) {
      const res = await post(ua, approval.allow.action, fields);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('The form has expired or was not sent by this site');
    }
    const denied = await post(ua, approval.deny.action, { abort: 'yes' });
    expect(denied.status).toBe(403);
    expect((await poll(device.device_code)).body.error).toBe('authorization_pending');
    // The real form still works afterwards.
    const allowed = await ua.submit(new URL(approval.allow.action, gh.issuer).href, approval.allow.fields);
    expect(await allowed.res.text()).toContain('Device connected');
  });

  it('a second Allow (a replayed form) approves nothing more', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const approval = await reachApproval(ua, device.verification_uri_complete);
    const first = await ua.submit(new URL(approval.allow.action, gh.issuer).href, approval.allow.fields);
    expect(await first.res.text()).toContain('Device connected');
    const tokens = await poll(device.device_code);
    expect(tokens.status).toBe(200);

    const replay = await post(ua, approval.allow.action, approval.allow.fields);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    expect((await poll(device.device_code)).body.error).toBe('invalid_grant');
    // The code cannot be entered again either.
    const again = await ua.follow(device.verification_uri_complete);
    const form = readForm(await again.res.text());
    const reentered = await ua.submit(new URL(form.action, gh.issuer).href, form.fields);
    expect(reentered.res.status).toBe(400);
    // Spent (memory store) or already removed (Redis): either way refused on the entry page.
    const html = await reentered.res.text();
    expect(html).toMatch(/That code (has already been used|is not valid)\./);
    expect(html).not.toContain('name="password"');
  });

  it('Deny ends the code with access_denied, and a later Allow cannot revive it', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const approval = await reachApproval(ua, device.verification_uri_complete);
    const denied = await ua.submit(new URL(approval.deny.action, gh.issuer).href, approval.deny.fields);
    expect(await denied.res.text()).toContain('The sign-in request was cancelled.');
    const replay = await post(ua, approval.allow.action, approval.allow.fields);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    // The device hears access_denied once (RFC 8628 §3.5); the code is then spent.
    expect(await poll(device.device_code)).toEqual({
      status: 400,
      body: expect.objectContaining({ error: 'access_denied' }),
    });
    expect((await poll(device.device_code)).body.error).toBe('invalid_grant');
  });

  it('with a session and an earlier grant for the same client and scope, the code still needs Allow', async () => {
    const ua = new UserAgent(gh.issuer);
    const first = await startDeviceAuthorization(gh.issuer);
    const approval = await reachApproval(ua, first.verification_uri_complete);
    await ua.submit(new URL(approval.allow.action, gh.issuer).href, approval.allow.fields);
    expect((await poll(first.device_code)).status).toBe(200);

    const second = await startDeviceAuthorization(gh.issuer);
    const entry = await ua.follow(second.verification_uri_complete);
    const entryForm = readForm(await entry.res.text());
    const page = await ua.submit(new URL(entryForm.action, gh.issuer).href, entryForm.fields);
    const html = await page.res.text();
    expect(html).not.toContain('name="password"');
    expect(html).toContain(`<code id="user-code">${second.user_code}</code>`);
    expect((await poll(second.device_code)).body.error).toBe('authorization_pending');
  });

  it('a code entry form without confirm=yes (an old page) shows the entry page again and approves nothing', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const entry = await ua.follow(device.verification_uri_complete);
    const { action, fields } = readForm(await entry.res.text());
    const { xsrf, user_code } = fields as { xsrf: string; user_code: string };
    const res = await post(ua, action, { xsrf: xsrf, user_code: user_code });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(readForm(html).fields).toEqual({ xsrf, confirm: 'yes', user_code: device.user_code });
    expect((await poll(device.device_code)).body.error).toBe('authorization_pending');
  });

  it('abort=yes posted with the code on the entry form still denies it (oidc-provider contract), without sign-in', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    const entry = await ua.follow(device.verification_uri_complete);
    const { action, fields } = readForm(await entry.res.text());
    const res = await post(ua, action, { xsrf: fields.xsrf!, user_code: device.user_code, abort: 'yes' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('The sign-in request was cancelled.');
    expect((await poll(device.device_code)).body.error).toBe('access_denied');
  });

  it('a code entry without the session form secret (xsrf) is refused', async () => {
    const device = await startDeviceAuthorization(gh.issuer);
    const ua = new UserAgent(gh.issuer);
    await ua.follow(`${gh.issuer}/device`);
    const res = await post(ua, '/device', { confirm: 'yes', user_code: device.user_code });
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('name="password"');
    expect((await poll(device.device_code)).body.error).toBe('authorization_pending');
  });

  it('the approval page of a code that expired meanwhile offers no Allow, and a held Allow is refused', async () => {
    const short = await startTestGatehouse({
      env: kind === 'redis' ? { REDIS_URL: redis!.url } : {},
      overrides: { deviceFlow: FAST_DEVICE_FLOW, ttl: { ...gh.config.ttl, deviceCode: 2 } },
    });
    try {
      const device = await startDeviceAuthorization(short.issuer);
      const ua = new UserAgent(short.issuer);
      const entry = await ua.follow(device.verification_uri_complete);
      const entryForm = readForm(await entry.res.text());
      const login = await ua.submit(new URL(entryForm.action, short.issuer).href, entryForm.fields);
      const loginHtml = await login.res.text();
      const loginForm = readForm(loginHtml);
      const approval = await ua.submit(new URL(loginForm.action, login.url).href, {
        ...loginForm.fields,
        username: TEST_USERS.alice.username,
        password: TEST_USERS.alice.password,
      });
      const allow = readForm(await approval.res.text(), 0);
      await sleep(2500);
      const reload = await ua.request(approval.url);
      expect(reload.status).toBe(400);
      const reloaded = await reload.text();
      expect(reloaded).toContain('This device code has expired or was already used.');
      expect(reloaded).not.toContain('name="confirm"');
      const held = await ua.submit(new URL(allow.action, short.issuer).href, allow.fields);
      expect(held.res.status).toBe(400);
      expect(await held.res.text()).toContain('That code has expired.');
    } finally {
      await short.stop();
    }
  });
});

describe('approving a device code in test mode', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({
      mode: 'test',
      port: 0,
      host: '127.0.0.1',
      env: { LOG_LEVEL: 'silent' },
      overrides: { clients: [TEST_CLIENTS.device], deviceFlow: FAST_DEVICE_FLOW },
    });
  });
  afterAll(() => gh?.stop());

  it('login_hint signs the user in without a page, but the code still waits for Allow', async () => {
    const res = await fetch(`${gh.issuer}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: TEST_CLIENTS.device.client_id,
        scope: 'openid',
        login_hint: 'alice',
      }),
    });
    expect(res.status).toBe(200);
    const device = (await res.json()) as { user_code: string; verification_uri_complete: string };
    const ua = new UserAgent(gh.issuer);
    const entry = await ua.follow(device.verification_uri_complete);
    const form = readForm(await entry.res.text());
    const page = await ua.submit(new URL(form.action, gh.issuer).href, form.fields);
    const html = await page.res.text();
    expect(html).not.toContain('name="password"');
    expect(html).toContain('Allow access on a device?');
    expect(html).toContain(`<code id="user-code">${device.user_code}</code>`);
  });
});
