import { createHash, randomBytes } from 'node:crypto';
import { readForm, signIn, UserAgent } from './browserless.js';
import { TEST_CLIENTS, TEST_USERS } from './gatehouse.js';

export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

const WEB = TEST_CLIENTS.web;

/**
 * Signs alice in to the `web-app` client on `issuer` and returns a fresh authorization code with
 * its PKCE verifier. offline_access (with prompt=consent) makes the code yield a refresh token.
 */
export async function obtainCode(
  issuer: string,
  options: { offline?: boolean; ua?: UserAgent } = {},
): Promise<{ code: string; verifier: string; ua: UserAgent }> {
  const ua = options.ua ?? new UserAgent(issuer);
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: WEB.client_id,
    response_type: 'code',
    redirect_uri: WEB.redirect_uris[0],
    scope: options.offline ? 'openid email offline_access' : 'openid email',
    ...(options.offline ? { prompt: 'consent' } : {}),
    state: 's',
    nonce: 'n',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const callback = await signIn(ua, url.href, TEST_USERS.alice);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { code, verifier, ua };
}

/** POSTs a form to `<base>/token` as the web-app client. */
export async function tokenRequest(base: string, params: Record<string, string>) {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(WEB.client_id, WEB.client_secret),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string> };
}

export function redeemCode(base: string, code: string, verifier: string) {
  return tokenRequest(base, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: WEB.redirect_uris[0],
  });
}

export function refresh(base: string, refreshToken: string) {
  return tokenRequest(base, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/**
 * Approves (or denies) a device authorization on the pages as alice: entry page (pre-filled) →
 * Continue → sign in → the device approval page's Allow or Deny. Returns the final page's HTML
 * (the success page, or the entry page saying the request was cancelled).
 */
export async function approveDevice(
  issuer: string,
  verificationUriComplete: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<string> {
  const ua = new UserAgent(issuer);
  const entry = await ua.follow(verificationUriComplete);
  const entryForm = readForm(await entry.res.text());
  let page = await ua.submit(new URL(entryForm.action, issuer).href, entryForm.fields);
  for (let step = 0; step < 3; step += 1) {
    const html = await page.res.text();
    if (/name="password"/.test(html)) {
      const form = readForm(html);
      page = await ua.submit(new URL(form.action, page.url).href, {
        ...form.fields,
        username: TEST_USERS.alice.username,
        password: TEST_USERS.alice.password,
      });
    } else if (/id="user-code"/.test(html)) {
      // The device approval page: form 0 is Allow, form 1 is Deny.
      const form = readForm(html, decision === 'approve' ? 0 : 1);
      page = await ua.submit(new URL(form.action, page.url).href, form.fields);
    } else {
      return html;
    }
  }
  throw new Error('device approval did not finish');
}
