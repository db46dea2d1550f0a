import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { authorizeParams, FORM, query, WEB } from './bad-input-support.js';

describe('bad input at /userinfo (RFC 6750 §3)', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const challenge = (error: string, description: string) =>
    `Bearer realm="${gh.issuer}", error="${error}", error_description="${description}"`;

  it('no token: 401 with a challenge that carries no error code', async () => {
    for (const res of [await http.get('/userinfo'), await http.post('/userinfo').type('form').send('')]) {
      expect({ status: res.status, body: res.body }).toEqual({
        status: 401,
        body: { error: 'invalid_token', error_description: 'no access token provided' },
      });
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="${gh.issuer}", DPoP realm="${gh.issuer}", algs="ES256 Ed25519 EdDSA"`,
      );
    }
  });

  it.each([
    ['unknown', 'no-such-token'],
    ['long', 'a'.repeat(4000)],
    ['unsigned JWT', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZS0wMDAxIn0.'],
  ])('a bad token (%s): 401 invalid_token', async (_name, value) => {
    for (const res of [
      await http.get('/userinfo').set('authorization', `Bearer ${value}`),
      await http.post('/userinfo').type('form').send({ access_token: value }),
    ]) {
      expect({ status: res.status, body: res.body }).toEqual({
        status: 401,
        body: { error: 'invalid_token', error_description: 'invalid token provided' },
      });
      expect(res.headers['www-authenticate']).toBe(challenge('invalid_token', 'invalid token provided'));
    }
  });

  it('a token of another kind (a client credentials token has no subject) is invalid_token', async () => {
    const service = TEST_CLIENTS.service;
    const issued = await http
      .post('/token')
      .auth(service.client_id, service.client_secret)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'api:read' });
    expect(issued.status).toBe(200);
    const res = await http.get('/userinfo').set('authorization', `Bearer ${issued.body.access_token}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
  });

  it.each([
    ['Bearer', 'invalid authorization header value format'],
    ['Bearer a b', 'invalid authorization header value format'],
    ['Basic abc', 'authorization header scheme must be `Bearer`'],
  ])('a malformed Authorization header (%s): 400 invalid_request', async (header, description) => {
    const res = await http.get('/userinfo').set('authorization', header);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: description },
    });
    expect(res.headers['www-authenticate']).toBe(challenge('invalid_request', description));
  });

  it('a token in the query string, or in two places: 400 invalid_request', async () => {
    const cases = [
      [http.get('/userinfo?access_token=abc'), 'access tokens must not be provided via query parameter'],
      [
        http.get('/userinfo?access_token=abc').set('authorization', 'Bearer abc'),
        'access token must only be provided using one mechanism',
      ],
      [
        http.post('/userinfo').set('authorization', 'Bearer abc').type('form').send({ access_token: 'abc' }),
        'access token must only be provided using one mechanism',
      ],
      [
        http.post('/userinfo').set('content-type', 'application/json').send('{"access_token":"abc"}'),
        'only application/x-www-form-urlencoded content-type bodies are supported on POST /userinfo',
      ],
    ] as const;
    for (const [pending, description] of cases) {
      const res = await pending;
      expect({ status: res.status, body: res.body }).toEqual({
        status: 400,
        body: { error: 'invalid_request', error_description: description },
      });
    }
  });
});

describe('Host and X-Forwarded-* never change the URLs Gatehouse builds', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const spoofs: Record<string, string>[] = [
    { host: 'evil.example.net' },
    { 'x-forwarded-host': 'evil.example.net' },
    { 'x-forwarded-proto': 'https' },
    { 'x-forwarded-host': 'evil.example.net', 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' },
    { host: 'evil.example.net:8443', 'x-forwarded-host': 'other.example.net, evil.example.net' },
    { forwarded: 'for=203.0.113.1;host=evil.example.net;proto=https' },
    { 'x-forwarded-prefix': '/evil', 'x-original-url': '/evil', 'x-forwarded-server': 'evil.example.net' },
  ];

  /** Every string in the metadata that looks like a URL. */
  const urls = (value: unknown): string[] =>
    typeof value === 'string'
      ? /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
        ? [value]
        : []
      : value && typeof value === 'object'
        ? Object.values(value).flatMap(urls)
        : [];

  it.each(spoofs)('discovery stays on the issuer with %j', async (headers) => {
    const res = await http.get('/.well-known/openid-configuration').set(headers);
    expect(res.status).toBe(200);
    expect(res.body.issuer).toBe(gh.issuer);
    const found = urls(res.body);
    expect(found.length).toBeGreaterThan(8);
    expect(found.filter((url) => url !== gh.issuer && !url.startsWith(`${gh.issuer}/`))).toEqual([]);
    expect(res.body.jwks_uri).toBe(`${gh.issuer}/jwks`);
    expect(res.body.token_endpoint).toBe(`${gh.issuer}/token`);
  });

  it('the unspoofed document is the same as every spoofed one', async () => {
    const plain = (await http.get('/.well-known/openid-configuration')).body as unknown;
    for (const headers of spoofs) {
      expect((await http.get('/.well-known/openid-configuration').set(headers)).body).toEqual(plain);
    }
  });

  it('error redirects carry the issuer as iss, and challenges name it as realm', async () => {
    const spoof = spoofs[3]!;
    const redirected = await http
      .get(`/authorize${query([...Object.entries(authorizeParams()), ['scope', 'openid']])}`)
      .set(spoof);
    expect(new URL(redirected.headers.location!).searchParams.get('iss')).toBe(gh.issuer);
    const challenged = await http.get('/userinfo').set(spoof).set('authorization', 'Bearer nope');
    expect(challenged.headers['www-authenticate']).toContain(`realm="${gh.issuer}"`);
    const basic = await http
      .post('/token')
      .set(spoof)
      .set('authorization', `Basic ${Buffer.from(`${WEB.client_id}:wrong`).toString('base64')}`)
      .set('content-type', FORM)
      .send('grant_type=client_credentials');
    expect(basic.headers['www-authenticate']).toContain(`realm="${gh.issuer}"`);
  });

  it('the device flow verification URIs stay on the issuer', async () => {
    const res = await http
      .post('/device_authorization')
      .set(spoofs[3]!)
      .type('form')
      .send({ client_id: TEST_CLIENTS.device.client_id, scope: 'openid' });
    expect(res.status).toBe(200);
    expect(res.body.verification_uri).toBe(`${gh.issuer}/device`);
    expect(res.body.verification_uri_complete).toMatch(new RegExp(`^${gh.issuer}/device\\?user_code=`));
  });
});
