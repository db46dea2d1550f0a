import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { basic, FORM, stackTraceIn, WEB_AUTH } from './bad-input-support.js';

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
