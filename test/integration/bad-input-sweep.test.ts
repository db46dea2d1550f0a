import { request as httpRequest } from 'node:http';
import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { basic, BODY_LIMIT, FORM, stackTraceIn, WEB_AUTH } from './bad-input-support.js';

/**
 * Fires malformed requests at every endpoint and asserts that none is answered with a 5xx or
 * shows a stack trace or a file path: bad input is always the client's error.
 */
describe('a sweep of malformed requests over every endpoint', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const ENDPOINTS = [
    '/authorize',
    '/token',
    '/userinfo',
    '/revoke',
    '/introspect',
    '/logout',
    '/logout/confirm',
    '/device_authorization',
    '/par',
    '/device',
    '/device/xyz',
    '/jwks',
    '/.well-known/openid-configuration',
    '/interaction/xyz',
    '/interaction/xyz/login',
    '/interaction/xyz/confirm',
    '/interaction/xyz/abort',
    '/no/such/path',
  ];

  type Req = ReturnType<typeof http.get>;
  interface Case {
    name: string;
    send(path: string): Req;
  }

  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE'];
  const QUERIES = [
    '?%ff=%ff&client_id=%ff&redirect_uri=%ff',
    '?client_id=web-app&redirect_uri=%E0%A4%A&response_type=%',
    '?a[b][c]=1&__proto__[x]=1&constructor[prototype][y]=1',
    '?client_id=web-app&client_id=web-app&scope=openid&scope=openid',
    '?user_code=%00%0d%0a&xsrf=%ff',
    `?state=${'a'.repeat(6000)}`,
    // The claims request parameter (OIDC Core §5.5): malformed, hostile and oversized.
    `?client_id=web-app&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb&claims=${encodeURIComponent('{"id_token":{')}`,
    `?client_id=web-app&response_type=code&scope=openid&claims=${encodeURIComponent('{"userinfo":{"__proto__":{"essential":true},"constructor":null},"id_token":{"email":{"values":[{}]}}}')}`,
    `?client_id=web-app&response_type=code&scope=openid&claims=${encodeURIComponent(`{"id_token":${'{"a":'.repeat(500)}null${'}'.repeat(500)}}`)}`,
  ];
  const BODIES: [string, string | Buffer][] = [
    ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])],
    ['invalid percent-encoding', '%ff=%ff&grant_type=%ff&token=%E0%A4%A&a=%'],
    ['truncated JSON', '{"grant_type":'],
    ['a JSON array', '[1,2,3]'],
    ['JSON null', 'null'],
    ['prototype keys', '__proto__[a]=1&constructor[prototype][b]=2&__proto__=x'],
    ['array and object parameters', 'token[]=a&token[]=b&client_id[x]=1&grant_type[]=client_credentials'],
    ['every parameter twice', 'client_id=web-app&client_id=x&token=y&token=z&grant_type=a&grant_type=b'],
    ['60 000 bytes', `grant_type=client_credentials&pad=${'a'.repeat(60000)}`],
  ];
  const TYPES = [
    FORM,
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    `${FORM}; charset=utf-16`,
    `${FORM}; charset=no-such-charset`,
    'application/json; charset=latin1',
    'garbage',
  ];
  const HEADERS: [string, Record<string, string>][] = [
    ['Basic with bad encoding', { authorization: 'Basic %%%' }],
    ['Basic of %ff', { authorization: basic('%ff', '%ff') }],
    ['Basic, raw %ff', { authorization: `Basic ${Buffer.from('%ff:%ff').toString('base64')}` }],
    ['a long Bearer', { authorization: `Bearer ${'a'.repeat(8000)}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['DPoP garbage', { authorization: 'DPoP abc', dpop: 'not.a.jwt' }],
    [
      'a DPoP proof with hostile members',
      {
        authorization: 'DPoP abc',
        dpop: [
          { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: '%', y: [] } },
          { nonce: 7, htm: ['POST'], htu: {}, iat: 'now', jti: null },
        ]
          .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
          .concat('c2ln')
          .join('.'),
      },
    ],
    ['cookie garbage', { cookie: '_session=%ff; _session.sig=%%%; _interaction=x; =; a' }],
    ['cookie of 8 KiB', { cookie: `_session=${'a'.repeat(8000)}` }],
    ['a header of 8 KiB', { 'x-filler': 'a'.repeat(8000) }],
    ['headers beyond Node.js limit', { 'x-filler': 'a'.repeat(12000), 'x-more': 'b'.repeat(8000) }],
    [
      'forwarded garbage',
      { 'x-forwarded-for': 'garbage, %ff', 'x-forwarded-host': 'a b', 'x-forwarded-proto': 'gopher' },
    ],
    ['a weird Accept', { accept: 'text/html;q=x, */*;q=-1, application/json;;' }],
    ['gzip that is not', { 'content-type': FORM, 'content-encoding': 'gzip' }],
    ['an unknown Content-Encoding', { 'content-type': FORM, 'content-encoding': 'bogus' }],
    ['a request id with garbage', { 'x-request-id': '<script>%ff' }],
  ];

  const CASES: Case[] = [
    ...METHODS.map((method) => ({
      name: method,
      send: (path: string) =>
        (http as unknown as Record<string, (url: string) => Req>)[method.toLowerCase()]!(path),
    })),
    ...QUERIES.map((q) => ({ name: `GET ${q.slice(0, 40)}`, send: (path: string) => http.get(path + q) })),
    ...QUERIES.map((q) => ({
      name: `POST ${q.slice(0, 40)}`,
      send: (path: string) =>
        http
          .post(path + q)
          .set('content-type', FORM)
          .send(q.slice(1)),
    })),
    ...TYPES.flatMap((type) =>
      BODIES.map(([name, body]) => ({
        name: `POST ${type}: ${name}`,
        send: (path: string) => http.post(path).set('content-type', type).send(body),
      })),
    ),
    ...BODIES.map(([name, body]) => ({
      name: `POST without a type: ${name}`,
      send: (path: string) => http.post(path).unset('content-type').send(Buffer.from(body)),
    })),
    ...HEADERS.flatMap(([name, headers]) => [
      { name: `GET ${name}`, send: (path: string) => http.get(path).set(headers) },
      {
        name: `POST ${name}`,
        send: (path: string) => http.post(path).set('content-type', FORM).set(headers).send('token=x&a=b'),
      },
    ]),
    {
      name: 'POST a valid client with garbage parameters',
      send: (path) =>
        http
          .post(path)
          .set('authorization', WEB_AUTH)
          .set('content-type', FORM)
          .send('grant_type=%00&code=%ff&token=&token_type_hint=%ff&redirect_uri=javascript:alert(1)'),
    },
  ];

  it.each(ENDPOINTS)('%s answers every malformed request below 500, without a stack trace', async (path) => {
    const failures: string[] = [];
    for (const { name, send } of CASES) {
      let res: request.Response;
      try {
        res = await send(path);
      } catch (err) {
        failures.push(`${name}: request failed: ${(err as Error).message}`);
        continue;
      }
      const body = res.text ?? (Buffer.isBuffer(res.body) ? res.body.toString('utf8') : '');
      if (res.status >= 500) failures.push(`${name}: ${res.status} ${body.slice(0, 200)}`);
      const trace = stackTraceIn(body) ?? stackTraceIn(JSON.stringify(res.headers));
      if (trace) failures.push(`${name}: stack trace or path in the response: ${trace}`);
    }
    expect(failures).toEqual([]);
  });

  it('sweeps enough to matter', () => {
    expect(CASES.length * ENDPOINTS.length).toBeGreaterThan(1500);
  });
});

describe('wrong methods on served paths', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const send = (method: string, path: string) =>
    (http as unknown as Record<string, (url: string) => request.Test>)[method.toLowerCase()]!(path);

  // [method, path, the methods the path is served with]
  const WRONG: [string, string, string][] = [
    ['GET', '/token', 'POST, OPTIONS'],
    ['PUT', '/token', 'POST, OPTIONS'],
    ['POST', '/jwks', 'GET, HEAD, OPTIONS'],
    ['GET', '/revoke', 'POST, OPTIONS'],
    ['GET', '/introspect', 'POST, OPTIONS'],
    ['PUT', '/userinfo', 'GET, HEAD, POST, OPTIONS'],
    ['GET', '/device_authorization', 'POST, OPTIONS'],
    ['GET', '/par', 'POST, OPTIONS'],
    ['POST', '/.well-known/openid-configuration', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/.well-known/oauth-authorization-server', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/device', 'GET, HEAD, POST'],
    ['GET', '/logout/confirm', 'POST'],
  ];

  it.each(WRONG)('%s %s: 405 with Allow: %s, in the OAuth error shape', async (method, path, allow) => {
    const res = await send(method, path);
    expect({ status: res.status, allow: res.headers.allow, body: res.body as unknown }).toEqual({
      status: 405,
      allow,
      body: { error: 'invalid_request', error_description: expect.stringContaining('method not allowed') },
    });
  });

  it.each([
    ['DELETE', '/authorize'],
    ['PUT', '/logout'],
  ])('%s %s: 405 naming GET and POST among the allowed methods', async (method, path) => {
    const res = await send(method, path);
    expect(res.status).toBe(405);
    // POST too: OpenID Connect requires it at both (served as a 303 to the same GET request).
    expect(res.headers.allow?.split(', ')).toEqual(expect.arrayContaining(['GET', 'HEAD', 'POST']));
    expect(res.headers.allow).not.toContain(method);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
  });

  it('a browser gets the error page for a wrong method on a page', async () => {
    for (const [method, path] of [
      ['DELETE', '/authorize'],
      ['GET', '/interaction/xyz/login'],
      ['PUT', '/device'],
    ] as const) {
      const res = await send(method, path).set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
      expect({ path, status: res.status, type: res.type }).toEqual({ path, status: 405, type: 'text/html' });
      expect(res.headers.allow).toEqual(expect.stringContaining(method === 'GET' ? 'POST' : 'GET'));
    }
  });

  it('the AWS API answers a wrong method in its own shape', async () => {
    for (const path of ['/aws/oidc/token', '/aws/oidc/client/register', '/aws/oidc/device_authorization']) {
      const res = await http.get(path);
      expect({
        path,
        status: res.status,
        allow: res.headers.allow,
        type: res.headers['x-amzn-errortype'],
      }).toEqual({ path, status: 405, allow: 'POST', type: 'InvalidRequestException' });
      expect(res.body).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
    }
  });

  it('keeps 404 for unknown paths, HEAD where GET is served and CORS preflight', async () => {
    expect((await http.put('/no/such/path')).status).toBe(404);
    expect((await http.get('/tokens')).status).toBe(404);
    expect((await http.head('/jwks')).status).toBe(200);
    expect((await http.head('/.well-known/openid-configuration')).status).toBe(200);
    const preflight = await http
      .options('/token')
      .set('origin', 'https://spa.example.com')
      .set('access-control-request-method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toBe('POST');
  });
});

describe('chunked request bodies (no Content-Length)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ env: { GATEHOUSE_MODE: 'test' } });
  });
  afterAll(() => gh?.stop());

  /** Sends `chunks` with Transfer-Encoding: chunked (node:http sets no Content-Length). */
  function sendChunked(path: string, type: string, chunks: string[], headers: Record<string, string> = {}) {
    const url = new URL(gh.url);
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: 'POST',
            headers: { 'content-type': type, 'transfer-encoding': 'chunked', ...headers },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        for (const chunk of chunks) req.write(chunk);
        req.end();
      },
    );
  }
  const oversized = (prefix: string) => [prefix, ...Array.from({ length: 4 }, () => 'a'.repeat(20000))];
  const tooLarge = {
    error: 'invalid_request',
    error_description: `request body exceeds ${BODY_LIMIT} bytes`,
  };

  it.each([
    ['/token', FORM],
    ['/revoke', FORM],
    ['/introspect', FORM],
    ['/device_authorization', FORM],
    ['/userinfo', FORM],
    ['/logout/confirm', FORM],
    ['/device', FORM],
    ['/interaction/xyz/login', FORM],
    ['/_test/clients', 'application/json'],
    ['/no/such/path', FORM],
  ])('%s: over http.bodyLimitBytes is 413', async (path, type) => {
    const res = await sendChunked(path, type, oversized('pad='), { authorization: WEB_AUTH });
    expect({ status: res.status, body: JSON.parse(res.body) as unknown }).toEqual({
      status: 413,
      body: tooLarge,
    });
  });

  it('/aws/oidc/token: over the limit is 413 in the AWS shape', async () => {
    const res = await sendChunked('/aws/oidc/token', 'application/json', oversized('{"pad":"'));
    expect(res.status).toBe(413);
    expect(res.headers['x-amzn-errortype']).toBe('InvalidRequestException');
    expect(JSON.parse(res.body)).toMatchObject({
      error: 'invalid_request',
      message: tooLarge.error_description,
    });
  });

  it('a browser gets the error page for an oversized chunked form', async () => {
    const res = await sendChunked('/interaction/xyz/login', FORM, oversized('pad='), { accept: 'text/html' });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it('a chunked body under the limit is read as sent, by every reader', async () => {
    const service = TEST_CLIENTS.service;
    const token = await sendChunked('/token', FORM, ['grant_type=client_', 'credentials&scope=api:read'], {
      authorization: basic(service.client_id, service.client_secret),
    });
    expect(token.status).toBe(200);
    expect(JSON.parse(token.body)).toHaveProperty('access_token');

    const register = await sendChunked('/aws/oidc/client/register', 'application/json', [
      '{"clientName":"chunked",',
      '"clientType":"public"}',
    ]);
    expect(register.status).toBe(200);
    expect(JSON.parse(register.body)).toHaveProperty('clientSecret');

    const client = await sendChunked('/_test/clients', 'application/json', [
      '{"grant_types":["client_credentials"],',
      '"redirect_uris":[],"response_types":[]}',
    ]);
    expect(client.status).toBe(201);

    const padded = `grant_type=client_credentials&scope=api:read&pad=${'a'.repeat(BODY_LIMIT - 60)}`;
    const atLimit = await sendChunked('/interaction/xyz/login', FORM, [
      padded.slice(0, 30000),
      padded.slice(30000),
    ]);
    expect(atLimit.status).toBeLessThan(500);
    expect(atLimit.status).not.toBe(413);
  });
});
