import { createHash, randomBytes } from 'node:crypto';
import {
  SSOOIDCClient,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';

/**
 * Trust boundary: what the sign-in, consent and device pages tell the user about the application
 * asking. A client registered anonymously through the AWS API chose its own name, so the pages
 * must say it is unverified; and the consent pages must say when the application keeps access
 * after the user leaves (a refresh token will be issued).
 */

const UNVERIFIED =
  /id="unverified-client"[^>]*>This application registered itself; Gatehouse has not verified who runs it\. Its name was chosen by whoever registered it\./;
const KEEPS_ACCESS = /id="keeps-access"[^>]*>If you (allow|approve), [\s\S]*keeps access after you leave/;

describe('sign-in and consent pages for applications nobody verified', () => {
  let gh: RunningGatehouse;
  let sso: SSOOIDCClient;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
    sso = new SSOOIDCClient({ region: 'us-east-1', endpoint: `${gh.issuer}/aws/oidc` });
  });
  afterAll(async () => {
    sso?.destroy();
    await gh?.stop();
  });

  function authorizeUrl(
    clientId: string,
    redirectUri: string,
    scope: string,
    extra: Record<string, string> = {},
  ) {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${gh.issuer}/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope,
      state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return url.href;
  }

  /** Opens the sign-in page, signs alice in, and returns both pages' HTML (and the login response). */
  async function loginThenConsent(url: string) {
    const ua = new UserAgent(gh.issuer);
    const login = await ua.follow(url);
    const loginHtml = await login.res.text();
    expect(loginHtml).toContain('name="password"');
    const form = readForm(loginHtml);
    const consent = await ua.submit(new URL(form.action, login.url).href, {
      ...form.fields,
      username: TEST_USERS.alice.username,
      password: TEST_USERS.alice.password,
    });
    const consentHtml = await consent.res.text();
    expect(consentHtml).toContain('Allow access?');
    return { login: login.res, loginHtml, consentHtml };
  }

  // Clients that register scopes get refresh tokens (as at AWS); those that register none do not.
  const registerCodeClient = (clientName: string, grantTypes: string[], scopes?: string[]) =>
    sso.send(
      new RegisterClientCommand({
        clientName,
        clientType: 'public',
        grantTypes,
        redirectUris: ['http://127.0.0.1/oauth/callback'],
        ...(scopes ? { scopes } : {}),
      }),
    );

  it('say on sign-in and consent that an AWS-registered application is unverified and keeps access', async () => {
    const client = await registerCodeClient(
      'AWS <b>Official</b> Console',
      ['authorization_code', 'refresh_token'],
      ['openid', 'sso:account:access'],
    );
    const { login, loginHtml, consentHtml } = await loginThenConsent(
      authorizeUrl(client.clientId!, 'http://127.0.0.1:43001/oauth/callback', 'openid sso:account:access'),
    );
    expect(loginHtml).toMatch(UNVERIFIED);
    expect(consentHtml).toMatch(UNVERIFIED);
    expect(consentHtml).toMatch(KEEPS_ACCESS);
    // The chosen name is shown as text, never as markup.
    expect(loginHtml).toContain('AWS &lt;b&gt;Official&lt;/b&gt; Console');
    expect(loginHtml).not.toContain('<b>Official</b>');
    // The notice needs no script: the pages keep a CSP without inline script.
    const csp = login.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'|script-src/);
    expect(csp).not.toContain("'unsafe-inline'");
    // No inline script: the only scripts are the passkey button's, from the issuer's /assets/.
    const scripts = [...loginHtml.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.map(([, attributes, body]) => ({ attributes: attributes!.trim(), body }))).toEqual([
      { attributes: 'src="/assets/simplewebauthn-browser.js" defer', body: '' },
      { attributes: 'src="/assets/passkeys.js" defer', body: '' },
    ]);
  });

  it('do not promise lasting access when no refresh token will be issued', async () => {
    const client = await registerCodeClient('cli without refresh', ['authorization_code']);
    const { consentHtml } = await loginThenConsent(
      authorizeUrl(client.clientId!, 'http://127.0.0.1:43002/oauth/callback', 'openid'),
    );
    expect(consentHtml).toMatch(UNVERIFIED);
    expect(consentHtml).not.toContain('id="keeps-access"');
  });

  it('show no unverified notice for a configured client, and the access notice only with offline_access', async () => {
    const web = TEST_CLIENTS.web;
    const plain = await loginThenConsent(authorizeUrl(web.client_id, web.redirect_uris[0], 'openid email'));
    expect(plain.loginHtml).not.toContain('id="unverified-client"');
    expect(plain.consentHtml).not.toContain('id="unverified-client"');
    expect(plain.consentHtml).not.toContain('id="keeps-access"');

    const offline = await loginThenConsent(
      authorizeUrl(web.client_id, web.redirect_uris[0], 'openid email offline_access', { prompt: 'consent' }),
    );
    expect(offline.consentHtml).not.toContain('id="unverified-client"');
    expect(offline.consentHtml).toMatch(KEEPS_ACCESS);
  });

  it('say it on the sign-in and device approval pages of a device login too', async () => {
    const client = await sso.send(
      new RegisterClientCommand({
        clientName: 'Device CLI',
        clientType: 'public',
        scopes: ['sso:account:access'],
      }),
    );
    const auth = await sso.send(
      new StartDeviceAuthorizationCommand({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        startUrl: 'https://d-0000000000.awsapps.com/start',
      }),
    );
    const ua = new UserAgent(gh.issuer);
    const entry = await ua.follow(auth.verificationUriComplete!);
    const form = readForm(await entry.res.text());
    const login = await ua.submit(new URL(form.action, gh.issuer).href, form.fields);
    const loginHtml = await login.res.text();
    expect(loginHtml).toContain('name="password"');
    expect(loginHtml).toMatch(UNVERIFIED);
    const loginForm = readForm(loginHtml);
    const approval = await ua.submit(new URL(loginForm.action, login.url).href, {
      ...loginForm.fields,
      username: TEST_USERS.alice.username,
      password: TEST_USERS.alice.password,
    });
    const html = await approval.res.text();
    expect(html).toContain('Allow access on a device?');
    expect(html).toContain('Device CLI');
    expect(html).toContain(`<code id="user-code">${auth.userCode}</code>`);
    expect(html).toMatch(UNVERIFIED);
    expect(html).toMatch(KEEPS_ACCESS);
  });
});
