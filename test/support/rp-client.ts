import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { signIn, UserAgent } from './browserless.js';
import { TEST_USERS } from './gatehouse.js';

/** Relying-party helpers built on openid-client, for the rp-*.test.ts suites. */

/** Gatehouse listens on http in tests; openid-client refuses that unless told otherwise. */
export const insecure = { execute: [client.allowInsecureRequests] };

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris?: readonly string[];
}

/** Discovers `issuer` as `registered`, authenticating as `auth` (default: openid-client's choice). */
export function discover(
  issuer: string,
  registered: RegisteredClient,
  auth?: client.ClientAuth,
  execute: ((config: client.Configuration) => void)[] = [],
): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), registered.client_id, registered.client_secret, auth, {
    execute: [client.allowInsecureRequests, ...execute],
  });
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: URLSearchParams;
}

/** Records every request openid-client makes through `config` (they still go out). */
export function recordRequests(config: client.Configuration): RecordedRequest[] {
  const seen: RecordedRequest[] = [];
  config[client.customFetch] = async (url, options) => {
    seen.push({
      url,
      method: options.method ?? 'GET',
      headers: new Headers(options.headers as HeadersInit),
      body: new URLSearchParams(
        options.body instanceof URLSearchParams || typeof options.body === 'string' ? options.body : '',
      ),
    });
    return fetch(url, options as RequestInit);
  };
  return seen;
}

/** The `at_hash` of an access token signed with a SHA-256 algorithm (OIDC Core §3.1.3.6). */
export const atHash = (accessToken: string) =>
  createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

export interface Authorization {
  callback: URL;
  state: string;
  nonce: string;
  verifier: string;
  ua: UserAgent;
}

/**
 * Sends `ua` (a new browser by default) to the authorization endpoint with PKCE S256, a nonce and
 * a state, signs alice in and consents on the pages, and returns where the browser lands.
 */
export async function authorize(
  config: client.Configuration,
  redirectUri: string,
  params: Record<string, string> = {},
  options: { ua?: UserAgent; user?: { username: string; password: string } } = {},
): Promise<Authorization> {
  const ua = options.ua ?? new UserAgent(config.serverMetadata().issuer);
  const verifier = client.randomPKCECodeVerifier();
  const state = params.state ?? client.randomState();
  const nonce = params.nonce ?? client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
    state,
    nonce,
  });
  const callback = await signIn(ua, url.href, options.user ?? TEST_USERS.alice);
  return { callback, state, nonce, verifier, ua };
}

/** Runs the authorization code flow to the end: authorize, then redeem the code with openid-client. */
export async function codeFlow(
  config: client.Configuration,
  redirectUri: string,
  params: Record<string, string> = {},
  options: { ua?: UserAgent } = {},
) {
  const auth = await authorize(config, redirectUri, params, options);
  const tokens = await client.authorizationCodeGrant(config, auth.callback, {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
  });
  return { ...auth, tokens };
}

/** The query (or, for fragment responses, the fragment) parameters a redirect carries. */
export function responseParams(url: string | URL): URLSearchParams {
  const parsed = new URL(url);
  return parsed.hash ? new URLSearchParams(parsed.hash.slice(1)) : parsed.searchParams;
}

/**
 * Where a `prompt=none` authorization request from `ua` ends: the relying party's redirect
 * carrying `code` when the browser is still signed in, `error=login_required` when it is not.
 */
export async function silentAuthorization(
  config: client.Configuration,
  redirectUri: string,
  ua: UserAgent,
): Promise<URL> {
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  return new URL((await ua.follow(url.href)).url);
}

/**
 * An authorization request built by openid-client (PKCE S256, nonce and state), and the redemption
 * of its answer at the token endpoint, giving the ID token's claims.
 */
export async function authorizationRequest(
  config: client.Configuration,
  redirectUri: string,
  params: Record<string, string> = {},
) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    nonce,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  const redeem = async (callback: string | URL) =>
    (
      await client.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
      })
    ).claims()!;
  return { url, state, redeem };
}
