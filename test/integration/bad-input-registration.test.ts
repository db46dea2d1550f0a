import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { FORM, stackTraceIn } from './bad-input-support.js';

/**
 * Malformed requests at /register and /register/:client_id (registration on): every one is a
 * 4xx in the OAuth error shape, never a 5xx or a stack trace.
 */
describe('malformed requests at the registration endpoints', () => {
  const IAT = 'configured-initial-access-token-0123456789';
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  let clientUri: string;
  let rat: string;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        registration: {
          enabled: true,
          open: false,
          initialAccessTokens: [IAT],
          maxRegistrationsPerHour: 100000,
        },
      },
    });
    http = request(gh.app.callback());
    const registered = await http
      .post('/register')
      .set('authorization', `Bearer ${IAT}`)
      .send({ redirect_uris: ['https://rp.example.com/cb'] });
    clientUri = new URL(registered.body.registration_client_uri as string).pathname;
    rat = registered.body.registration_access_token as string;
  });
  afterAll(() => gh?.stop());

  /** Metadata of the wrong types and shapes, each sent as the JSON body of a registration. */
  const METADATA: unknown[] = [
    { redirect_uris: 'https://rp.example.com/cb' },
    { redirect_uris: [1, null, {}] },
    { redirect_uris: ['https://rp.example.com/cb'], client_name: 42 },
    { redirect_uris: ['https://rp.example.com/cb'], client_name: ['a'] },
    { redirect_uris: ['https://rp.example.com/cb'], grant_types: [1] },
    { redirect_uris: ['https://rp.example.com/cb'], grant_types: 'authorization_code' },
    { redirect_uris: ['https://rp.example.com/cb'], scope: { a: 1 } },
    { redirect_uris: ['https://rp.example.com/cb'], scope: 'openid no-such-scope' },
    { redirect_uris: ['https://rp.example.com/cb'], jwks: 'x' },
    { redirect_uris: ['https://rp.example.com/cb'], token_endpoint_auth_method: 'tls_client_auth' },
    { redirect_uris: ['https://rp.example.com/cb'], response_types: ['token'] },
    { redirect_uris: ['https://rp.example.com/cb'], id_token_signed_response_alg: 'none' },
    { redirect_uris: ['https://rp.example.com/cb'], application_type: 'desktop' },
    { redirect_uris: ['https://rp.example.com/cb'], contacts: ['not an email'] },
    { redirect_uris: ['https://rp.example.com/cb'], default_max_age: -1 },
    { redirect_uris: ['https://rp.example.com/cb'], post_logout_redirect_uris: ['%%%'] },
    { redirect_uris: ['https://rp.example.com/cb'], client_name: '\uD800' },
    { redirect_uris: ['https://rp.example.com/cb'], client_name: 'x'.repeat(50000) },
    [],
    null,
    'a string',
    42,
  ];

  it.each(METADATA.map((m, i) => [i, JSON.stringify(m)?.slice(0, 80), m]))(
    'POST /register with metadata #%i %s: 400 in the OAuth error shape',
    async (_i, _text, metadata) => {
      const res = await http
        .post('/register')
        .set('authorization', `Bearer ${IAT}`)
        .set('content-type', 'application/json')
        .send(JSON.stringify(metadata));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/^invalid_(request|client_metadata|redirect_uri)$/);
      expect(stackTraceIn(res.text)).toBeUndefined();
    },
  );

  it('registers nothing for any of them', async () => {
    const clients = await gh.store.listKeys('Client:');
    expect(clients).toHaveLength(1);
  });

  const BODIES: [string, string, string | Buffer][] = [
    ['bytes that are not UTF-8', 'application/json', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28])],
    ['truncated JSON', 'application/json', '{"redirect_uris":'],
    ['a form', FORM, 'redirect_uris=https://rp.example.com/cb'],
    ['text', 'text/plain', 'hello'],
    ['JSON with a bad charset', 'application/json; charset=no-such-charset', '{}'],
    ['70 000 bytes', 'application/json', `{"client_name":"${'a'.repeat(70000)}"}`],
  ];

  it.each(['/register', 'CLIENT'])('%s answers malformed bodies and tokens below 500', async (where) => {
    const path = where === 'CLIENT' ? clientUri : where;
    const failures: string[] = [];
    const check = (name: string, res: request.Response) => {
      if (res.status >= 500 || res.status < 400)
        failures.push(`${name}: ${res.status} ${res.text.slice(0, 200)}`);
      const trace = stackTraceIn(res.text ?? '');
      if (trace) failures.push(`${name}: ${trace}`);
    };
    for (const method of ['post', 'put'] as const) {
      for (const [name, type, body] of BODIES) {
        const token = where === 'CLIENT' ? rat : IAT;
        check(
          `${method} ${name}`,
          await http[method](path)
            .set('authorization', `Bearer ${token}`)
            .set('content-type', type)
            .send(body),
        );
      }
    }
    for (const authorization of [
      'Bearer ',
      `Bearer ${'a'.repeat(8000)}`,
      'Basic %%%',
      'Bearer a b',
      'DPoP x',
    ]) {
      for (const method of ['get', 'post', 'put', 'delete'] as const) {
        check(
          `${method} with ${authorization.slice(0, 20)}`,
          await http[method](path)
            .set('authorization', authorization)
            .set('content-type', 'application/json')
            .send('{}'),
        );
      }
    }
    check('GET another client id', await http.get('/register/%ff%00').set('authorization', `Bearer ${rat}`));
    expect(failures).toEqual([]);
  });
});
