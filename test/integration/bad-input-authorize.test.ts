import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { authorizeParams, errorPage, expectErrorPage, query, WEB } from './bad-input-support.js';

/**
 * Bad input at the authorization endpoint. While the client and its redirect_uri are not both
 * established, nothing may be sent to any redirect_uri (RFC 6749 §4.1.2.1): the user gets the
 * error page. Once they are, errors go back to the client.
 */
describe('bad input at /authorize', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const authorize = (search: string) => http.get(`/authorize${search}`).set('accept', 'text/html');
  const pairs = (overrides: Record<string, string> = {}) => Object.entries(authorizeParams(overrides));

  describe('duplicate parameters', () => {
    it('client_id twice: the error page, no redirect', async () => {
      for (const second of [WEB.client_id, 'spa']) {
        const res = await authorize(query([...pairs(), ['client_id', second]]));
        expectErrorPage(res, 400, 'invalid_request', "'client_id' parameter must not be provided twice");
      }
    });

    it('redirect_uri twice: the error page, no redirect (not even to a registered one)', async () => {
      const res = await authorize(query([...pairs(), ['redirect_uri', WEB.redirect_uris[0]]]));
      expectErrorPage(res, 400, 'invalid_request', "'redirect_uri' parameter must not be provided twice");
    });

    it('other parameters twice: invalid_request back at the registered redirect_uri', async () => {
      for (const name of ['response_type', 'scope', 'code_challenge']) {
        const res = await authorize(query([...pairs(), [name, authorizeParams()[name]!]]));
        expect(res.status).toBe(303);
        const location = new URL(res.headers.location!);
        expect(location.origin + location.pathname).toBe(WEB.redirect_uris[0]);
        expect(Object.fromEntries(location.searchParams)).toEqual({
          error: 'invalid_request',
          error_description: `'${name}' parameter must not be provided twice`,
          state: 'st',
          iss: gh.issuer,
        });
      }
    });

    it('state twice: the error goes back without a state', async () => {
      const res = await authorize(query([...pairs(), ['state', 'other']]));
      expect(res.status).toBe(303);
      const location = new URL(res.headers.location!);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        error: 'invalid_request',
        error_description: "'state' parameter must not be provided twice",
        iss: gh.issuer,
      });
    });
  });

  describe('unknown or missing client', () => {
    it('an unknown client_id: the error page, no redirect, even to a plausible redirect_uri', async () => {
      for (const redirect of [WEB.redirect_uris[0], 'https://evil.example.com/cb']) {
        const res = await authorize(query(pairs({ client_id: 'no-such-client', redirect_uri: redirect })));
        expectErrorPage(res, 400, 'invalid_client', 'client is invalid');
        expect(res.text).toContain('The application making this request is not known.');
      }
    });

    it('no client_id: the error page', async () => {
      const res = await authorize(query(pairs().filter(([k]) => k !== 'client_id')));
      expectErrorPage(res, 400, 'invalid_request', "missing required parameter 'client_id'");
    });

    it('the error page is HTML whatever the Accept header asks for', async () => {
      const res = await http
        .get(`/authorize${query(pairs({ client_id: 'no-such-client' }))}`)
        .set('accept', 'application/json');
      expectErrorPage(res, 400, 'invalid_client', 'client is invalid');
    });
  });

  describe('redirect_uri', () => {
    const altered = [
      'https://evil.example.com/cb', // another host
      'https://rp.example.com.evil.example/cb', // registered host as a prefix
      'https://user@rp.example.com/cb', // userinfo
      'http://rp.example.com/cb', // scheme
      'https://rp.example.com:443/cb', // explicit port
      'https://RP.example.com/cb', // case of the host
      'https://rp.example.com/CB', // case of the path
      'https://rp.example.com/cb/', // trailing slash
      'https://rp.example.com/cb/x', // longer path
      'https://rp.example.com/cb/../cb', // dot segments
      'https://rp.example.com/%63b', // percent-encoded
      'https://rp.example.com/cb?next=https://evil.example.com', // extra query
      'https://rp.example.com/cb#fragment', // fragment
      'https://post.example.com/cb', // another client's
      'not a url',
    ];

    it.each(altered)('%s: the error page, no redirect', async (redirect) => {
      const res = await authorize(query(pairs({ redirect_uri: redirect })));
      expectErrorPage(
        res,
        400,
        'invalid_redirect_uri',
        "redirect_uri did not match any of the client's registered redirect_uris",
      );
      expect(res.text).toContain('The application sent an address that is not registered.');
      expect(res.text).not.toContain(redirect.replace(/&/g, '&amp;'));
    });

    it('missing (even with a single registered one): the error page', async () => {
      const res = await authorize(query(pairs().filter(([k]) => k !== 'redirect_uri')));
      expectErrorPage(res, 400, 'invalid_request', "missing required parameter 'redirect_uri'");
    });

    it('the registered one, unaltered, is accepted (the control case)', async () => {
      const res = await authorize(query(pairs()));
      expect(res.status).toBe(303);
      expect(res.headers.location).toMatch(/^\/interaction\/[\w-]+$/);
      expect(errorPage(res.text).error).toBeUndefined();
    });
  });

  describe('request objects and request_uri (RFC 9101, RFC 9126)', () => {
    const segment = (value: string) => Buffer.from(value).toString('base64url');
    it.each([
      ['not a JWT', { request: 'not-a-jwt' }, 'invalid_request_object'],
      [
        'a JWT whose payload is not JSON',
        { request: `${segment('{"alg":"ES256"}')}.${segment('[1')}.c2ln` },
        'invalid_request_object',
      ],
      [
        'a JWT whose payload is an array',
        { request: `${segment('{"alg":"ES256"}')}.${segment('[1,2]')}.c2ln` },
        'invalid_request_object',
      ],
      ['an empty request', { request: '' }, 'invalid_request'],
      [
        'a request_uri with no id',
        { request_uri: 'urn:ietf:params:oauth:request_uri:' },
        'invalid_request_uri',
      ],
      ['a request_uri that is not a URI', { request_uri: '%00 \u0000' }, 'request_uri_not_supported'],
      [
        'a request_uri that would need fetching',
        { request_uri: 'http://169.254.169.254/latest/meta-data' },
        'request_uri_not_supported',
      ],
      [
        'a very long request_uri',
        { request_uri: `urn:ietf:params:oauth:request_uri:${'a'.repeat(4000)}` },
        'invalid_request_uri',
      ],
    ])('%s: the error page (4xx), nothing fetched or redirected', async (_what, params, error) => {
      const res = await authorize(query([['client_id', WEB.client_id], ...Object.entries(params)]));
      expectErrorPage(res, 400, error);
    });
  });

  it('POST authorization requests become the same GET request (303), whatever the parameters', async () => {
    const params = authorizeParams();
    const res = await http.post('/authorize').type('form').send(new URLSearchParams(params).toString());
    expect(res.status).toBe(303);
    expect(Object.fromEntries(new URL(res.headers.location!, 'http://x/authorize').searchParams)).toEqual(
      params,
    );
  });

  it('POST without a form body: 400 invalid_request, no redirect', async () => {
    const res = await http.post('/authorize').set('accept', 'application/json').type('json').send('{}');
    expect({ status: res.status, location: res.headers.location, error: res.body.error }).toEqual({
      status: 400,
      location: undefined,
      error: 'invalid_request',
    });
  });
});
