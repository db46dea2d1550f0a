/**
 * Helpers shared by the bad-input-*.test.ts suites (not a test file itself).
 */
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Response } from 'supertest';
import { TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { signIn, UserAgent } from '../support/browserless.js';

export const WEB = TEST_CLIENTS.web;
export const POST_CLIENT = TEST_CLIENTS.post;
export const FORM = 'application/x-www-form-urlencoded';
export const BODY_LIMIT = 65536;

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
export const WEB_AUTH = basic(WEB.client_id, WEB.client_secret);

/** A valid authorization request for web-app, as query parameters. */
export function authorizeParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    client_id: WEB.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: WEB.redirect_uris[0],
    state: 'st',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...overrides,
  };
}

/** `?a=1&b=2` from pairs, so a parameter can be given twice. */
export const query = (pairs: [string, string][]) => `?${new URLSearchParams(pairs).toString()}`;

/** The error code and details Gatehouse's error page (views/error.eta) shows. */
export function errorPage(html: string): { error: string | undefined; description: string | undefined } {
  const error = /<dt>Error<\/dt><dd><code>([^<]*)<\/code><\/dd>/.exec(html)?.[1];
  const description = /<dt>Details<\/dt><dd>([^<]*)<\/dd>/.exec(html)?.[1];
  return { error: error && decode(error), description: description && decode(description) };
}

function decode(s: string): string {
  return s
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;/g, '/')
    .replace(/&amp;/g, '&');
}

/** Asserts an error page: HTML, the status, the error code, and no redirect anywhere. */
export function expectErrorPage(res: Response, status: number, error: string, description?: string): void {
  expect({ status: res.status, location: res.headers.location }).toEqual({ status, location: undefined });
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  const page = errorPage(res.text);
  expect(page.error).toBe(error);
  if (description !== undefined) expect(page.description).toBe(description);
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Stack frames ("    at fn (file:1:2)") and paths of this machine's files. */
export function stackTraceIn(body: string): string | undefined {
  const patterns = [
    /^\s*at .+:\d+:\d+\)?$/m,
    /\bat (?:async )?[\w$.<>]+ \([^)]*:\d+:\d+\)/,
    /node:internal/,
    /node_modules\//,
    /file:\/\//,
    new RegExp(ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    /\/(?:src|dist|lib)\/[\w/.-]+\.[cm]?[jt]s\b/,
  ];
  return patterns.map((p) => p.exec(body)?.[0]).find(Boolean);
}

/**
 * Signs alice in to web-app on the running server and returns a fresh code with its PKCE
 * verifier (scope `openid email`, plus `offline_access` for a refresh token when asked).
 */
export async function obtainCode(
  issuer: string,
  options: { offline?: boolean } = {},
): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams(
    authorizeParams({
      scope: options.offline ? 'openid email offline_access' : 'openid email',
      ...(options.offline ? { prompt: 'consent' } : {}),
      nonce: 'n',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    }),
  ).toString();
  const callback = await signIn(new UserAgent(issuer), url.href, TEST_USERS.alice);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { code, verifier };
}
