// The scenarios: what each sends to each target, what it expects back, and what it needs minted
// beforehand. Targets: "gatehouse", "gatehouse-plain" (login with a plain-text password only),
// "baseline" (bare oidc-provider), "peer" (oauth2-mock-server, where it has the endpoint) and
// "floor" (bare node:http answering Gatehouse's own discovery and JWKS bytes, bench/floor.mjs).
import { DEVICE_GRANT, PASSWORD, REDIRECT_URI, basicAuth } from './setup.mjs';

const FORM = 'application/x-www-form-urlencoded';
const form = (fields) => new URLSearchParams(fields).toString();

/** Hands out pre-minted values: each once (`consume`), or round-robin. */
export class Supply {
  constructor(values, { consume }) {
    this.values = values;
    this.consume = consume;
    this.index = 0;
    this.exhausted = 0;
  }

  next() {
    if (!this.consume) return this.values[this.index++ % this.values.length];
    if (this.index < this.values.length) return this.values[this.index++];
    this.exhausted += 1;
    return 'exhausted-pre-minted-value';
  }
}

const isJson = (body, text) => body.includes(text);
const status200 = (status) => status === 200;
const tokenOk = (status, body) => status === 200 && isJson(body, '"access_token"');
const pendingOk = (status, body) =>
  status === 400 && (isJson(body, '"authorization_pending"') || isJson(body, '"slow_down"'));

/** A single request, rebuilt from the supply for every request when `value` is given. */
function single({ method = 'GET', path, headers = {}, body, value }) {
  if (!value) return [{ method, path, headers, body }];
  return [
    {
      method,
      path,
      setupRequest(req) {
        const v = value();
        return {
          ...req,
          method,
          path: typeof path === 'function' ? path(v) : path,
          headers: typeof headers === 'function' ? headers(v) : headers,
          body: typeof body === 'function' ? body(v) : body,
        };
      },
    },
  ];
}

const codeRequest = (clientId) => ({
  method: 'POST',
  path: '/token',
  headers: { 'content-type': FORM, authorization: basicAuth(clientId) },
  body: (code) => form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
});

/**
 * Each scenario: `targets` it runs against; `mint` (kind, client, consume) when every request needs
 * a value minted beforehand; `build(target, supply)` → { requests, check, url? }.
 */
export const SCENARIOS = [
  {
    name: 'discovery',
    title: 'Discovery (GET /.well-known/openid-configuration)',
    targets: ['gatehouse', 'baseline', 'peer', 'floor'],
    goal: 3,
    build: () => ({ requests: single({ path: '/.well-known/openid-configuration' }), check: status200 }),
  },
  {
    name: 'jwks',
    title: 'JWKS (GET /jwks)',
    targets: ['gatehouse', 'baseline', 'peer', 'floor'],
    goal: 3,
    build: () => ({ requests: single({ path: '/jwks' }), check: status200 }),
  },
  {
    name: 'discovery-revalidate',
    title: 'Discovery revalidated (GET with If-None-Match: the current ETag)',
    targets: ['gatehouse', 'baseline', 'peer', 'floor'],
    goal: 3,
    build: (target) => ({
      requests: single({
        path: '/.well-known/openid-configuration',
        headers: { 'if-none-match': target.etags?.discovery ?? '"none"' },
      }),
      // 304 where the server has ETags (Gatehouse, the floor), the whole document elsewhere.
      check: (status) => status === (target.etags?.discovery ? 304 : 200),
    }),
  },
  {
    name: 'jwks-revalidate',
    title: 'JWKS revalidated (GET with If-None-Match: the current ETag)',
    targets: ['gatehouse', 'baseline', 'peer', 'floor'],
    goal: 3,
    build: (target) => ({
      requests: single({ path: '/jwks', headers: { 'if-none-match': target.etags?.jwks ?? '"none"' } }),
      check: (status) => status === (target.etags?.jwks ? 304 : 200),
    }),
  },
  {
    name: 'token-client-credentials',
    title: 'POST /token client_credentials',
    targets: ['gatehouse', 'baseline', 'peer'],
    goal: 1,
    build: () => ({
      requests: single({
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-service') },
        body: form({ grant_type: 'client_credentials' }),
      }),
      check: tokenOk,
    }),
  },
  {
    name: 'token-code-rs256',
    title: 'POST /token authorization_code, RS256 ID token',
    // gatehouse-acked: the same with each consume acknowledged by a replica (README "Redis").
    targets: ['gatehouse', 'gatehouse-acked', 'baseline', 'peer'],
    goal: 1,
    mint: { kind: 'code', client: 'bench-web', consume: true },
    build: (target, supply) =>
      target.kind === 'peer'
        ? {
            requests: single({ ...codeRequest('bench-web'), body: codeRequest('bench-web').body('x') }),
            check: tokenOk,
          }
        : { requests: single({ ...codeRequest('bench-web'), value: () => supply.next() }), check: tokenOk },
  },
  {
    name: 'token-code-es256',
    title: 'POST /token authorization_code, ES256 ID token',
    targets: ['gatehouse', 'baseline', 'peer'],
    goal: 1,
    mint: { kind: 'code', client: 'bench-web-es256', consume: true },
    build: (target, supply) =>
      target.kind === 'peer'
        ? {
            url: target.urlEs256,
            requests: single({
              ...codeRequest('bench-web-es256'),
              body: codeRequest('bench-web-es256').body('x'),
            }),
            check: tokenOk,
          }
        : {
            requests: single({ ...codeRequest('bench-web-es256'), value: () => supply.next() }),
            check: tokenOk,
          },
  },
  {
    name: 'token-refresh',
    title: 'POST /token refresh_token (rotating)',
    // gatehouse-acked: the same with each consume acknowledged by a replica (README "Redis").
    targets: ['gatehouse', 'gatehouse-acked', 'baseline', 'peer'],
    goal: 1,
    mint: { kind: 'refresh', client: 'bench-web', consume: true },
    build: (target, supply) => ({
      requests: single({
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-web') },
        body: (token) => form({ grant_type: 'refresh_token', refresh_token: token }),
        value: target.kind === 'peer' ? () => 'x' : () => supply.next(),
      }),
      check: (status, body) => tokenOk(status, body) && isJson(body, '"refresh_token"'),
    }),
  },
  {
    name: 'userinfo',
    title: 'GET /userinfo (bearer)',
    targets: ['gatehouse', 'baseline', 'peer'],
    goal: 1,
    mint: { kind: 'access', client: 'bench-web', consume: false, count: 64 },
    build: (target, supply) => ({
      requests: single({
        path: '/userinfo',
        headers: (token) => ({ authorization: `Bearer ${token}` }),
        value: target.kind === 'peer' ? () => 'x' : () => supply.next(),
      }),
      check: (status, body) => status === 200 && isJson(body, '"sub"'),
    }),
  },
  {
    name: 'introspection',
    title: 'POST /introspect (active token)',
    targets: ['gatehouse', 'baseline', 'peer'],
    goal: 1,
    mint: { kind: 'access', client: 'bench-web', consume: false, count: 64 },
    build: (target, supply) => ({
      requests: single({
        method: 'POST',
        path: '/introspect',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-service') },
        body: (token) => form({ token }),
        value: target.kind === 'peer' ? () => 'x' : () => supply.next(),
      }),
      check: (status, body) => status === 200 && isJson(body, '"active":true'),
    }),
  },
  {
    name: 'device-poll',
    title: 'POST /token device_code while pending',
    targets: ['gatehouse', 'baseline'],
    goal: 1,
    mint: { kind: 'device', client: 'bench-device', consume: false, count: 256 },
    build: (_target, supply) => ({
      requests: single({
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM },
        body: (code) => form({ grant_type: DEVICE_GRANT, device_code: code, client_id: 'bench-device' }),
        value: () => supply.next(),
      }),
      check: pendingOk,
    }),
  },
  {
    name: 'aws-create-token-poll',
    title: 'AWS CreateToken device poll (baseline: the same poll at its /token)',
    targets: ['gatehouse', 'baseline'],
    goal: 1,
    mint: { kind: 'device', client: 'aws', consume: false, count: 256 },
    build: (target, supply) => {
      const { clientId, clientSecret } = target.awsClient;
      if (target.kind === 'baseline') {
        return {
          requests: single({
            method: 'POST',
            path: '/token',
            headers: { 'content-type': FORM },
            body: (code) =>
              form({
                grant_type: DEVICE_GRANT,
                device_code: code,
                client_id: clientId,
                client_secret: clientSecret,
              }),
            value: () => supply.next(),
          }),
          check: pendingOk,
        };
      }
      return {
        requests: single({
          method: 'POST',
          path: '/aws/oidc/token',
          headers: { 'content-type': 'application/json' },
          body: (deviceCode) =>
            JSON.stringify({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode }),
          value: () => supply.next(),
        }),
        check: pendingOk,
      };
    },
  },
  {
    name: 'aws-register-client',
    title: 'AWS RegisterClient (baseline: RFC 7591 registration at /reg)',
    targets: ['gatehouse', 'baseline'],
    build: (target) =>
      target.kind === 'baseline'
        ? {
            requests: single({
              method: 'POST',
              path: '/reg',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(BASELINE_REGISTRATION),
            }),
            check: (status, body) => status === 201 && isJson(body, '"client_secret"'),
          }
        : {
            requests: single({
              method: 'POST',
              path: '/aws/oidc/client/register',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ clientName: 'gatehouse-bench', clientType: 'public' }),
            }),
            check: (status, body) => status === 200 && isJson(body, '"clientSecret"'),
          },
  },
  {
    name: 'login-argon2id',
    title: 'Full login round trip, argon2id password (authorize → login → consent → code → token)',
    targets: ['gatehouse', 'baseline'],
    unit: 'logins/s',
    build: () => loginFlow({ username: 'bench' }),
  },
  {
    name: 'login-plain',
    title: 'Full login round trip, plain-text password (GATEHOUSE_ALLOW_INSECURE=plain-passwords)',
    targets: ['gatehouse-plain', 'baseline'],
    unit: 'logins/s',
    build: (target) => loginFlow({ username: target.kind === 'baseline' ? 'bench-plain' : 'bench' }),
  },
];

/** The RFC 7591 counterpart of what RegisterClient creates. */
export const BASELINE_REGISTRATION = {
  client_name: 'gatehouse-bench',
  application_type: 'native',
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: [DEVICE_GRANT, 'refresh_token'],
  response_types: [],
  redirect_uris: [],
};

/** Applies Set-Cookie headers to a name → value jar (a deleted cookie leaves the jar). */
function storeCookies(jar, headers) {
  const raw = headers['set-cookie'] ?? headers['Set-Cookie'];
  for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
    const pair = line.split(';', 1)[0];
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) delete jar[name];
    else jar[name] = value;
  }
}

const cookieHeader = (jar) =>
  Object.entries(jar)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

const locationOf = (headers) => {
  const value = headers.location ?? headers.Location;
  return value ? new URL(value, 'http://bench.invalid') : undefined;
};

/**
 * A browser-less sign-in: GET /authorize → sign-in page → POST credentials → resume /authorize →
 * consent page → POST approval → resume /authorize → redirect with a code → POST /token.
 * Each connection is one "browser" with its own cookie jar, fresh for every round trip.
 */
function loginFlow({ username }) {
  const authorize = `/authorize?${form({
    client_id: 'bench-web',
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: REDIRECT_URI,
    state: 'bench-state',
    nonce: 'bench-nonce',
  })}`;
  const csrfOf = (body) => /name="csrf" value="([^"]*)"/.exec(body)?.[1];
  const get = (pathOf) => ({
    method: 'GET',
    path: '/',
    setupRequest(req, context) {
      if (context.failed) return null;
      const cookie = cookieHeader(context.jar ?? {});
      return { ...req, method: 'GET', path: pathOf(context), headers: cookie ? { cookie } : {} };
    },
  });
  const post = (pathOf, fields) => ({
    method: 'POST',
    path: '/',
    setupRequest(req, context) {
      if (context.failed) return null;
      const values = fields(context);
      if (context.csrf) values.csrf = context.csrf;
      return {
        ...req,
        method: 'POST',
        path: pathOf(context),
        headers: { cookie: cookieHeader(context.jar), 'content-type': FORM },
        body: form(values),
      };
    },
  });
  const follow = (context, headers) => {
    storeCookies((context.jar ??= {}), headers);
    const location = locationOf(headers);
    context.next = location ? location.pathname + location.search : undefined;
  };
  const page = (step) => (context, headers, body) => {
    storeCookies((context.jar ??= {}), headers);
    context.action = new RegExp(`action="(/interaction/[^"]*/${step})"`).exec(body)?.[1];
    context.csrf = csrfOf(body);
  };
  const requests = [
    { ...get(() => authorize), onResponse: (_s, _b, c, h) => follow(c, h) }, // → sign-in interaction
    { ...get((c) => c.next), onResponse: (_s, b, c, h) => page('login')(c, h, b) }, // sign-in page
    {
      ...post(
        (c) => c.action,
        () => ({ username, password: PASSWORD }),
      ),
      onResponse: (_s, _b, c, h) => follow(c, h),
    },
    { ...get((c) => c.next), onResponse: (_s, _b, c, h) => follow(c, h) }, // resume → consent interaction
    { ...get((c) => c.next), onResponse: (_s, b, c, h) => page('confirm')(c, h, b) }, // consent page
    {
      ...post(
        (c) => c.action,
        () => ({}),
      ),
      onResponse: (_s, _b, c, h) => follow(c, h),
    },
    {
      ...get((c) => c.next), // resume → redirect to the client with the code
      onResponse: (_s, _b, c, h) => {
        c.code = locationOf(h)?.searchParams.get('code');
      },
    },
    {
      method: 'POST',
      path: '/token',
      setupRequest(req, context) {
        if (context.failed || !context.code) return null;
        return {
          ...req,
          method: 'POST',
          path: '/token',
          headers: { 'content-type': FORM, authorization: basicAuth('bench-web') },
          body: form({ grant_type: 'authorization_code', code: context.code, redirect_uri: REDIRECT_URI }),
        };
      },
    },
  ];
  const redirect = (status) => status === 303 || status === 302;
  const expected = [
    (s, _b, h) => redirect(s) && /\/interaction\//.test(locationOf(h)?.pathname ?? ''),
    (s, b) => s === 200 && /action="\/interaction\/[^"]*\/login"/.test(b),
    (s, _b, h) => redirect(s) && !!locationOf(h),
    (s, _b, h) => redirect(s) && /\/interaction\//.test(locationOf(h)?.pathname ?? ''),
    (s, b) => s === 200 && /action="\/interaction\/[^"]*\/confirm"/.test(b),
    (s, _b, h) => redirect(s) && !!locationOf(h),
    (s, _b, h) => redirect(s) && !!locationOf(h)?.searchParams.get('code'),
    (s, b) => tokenOk(s, b) && isJson(b, '"id_token"'),
  ];
  return {
    requests,
    check: (status, body, headers, _context, step) => expected[step](status, body, headers),
  };
}
