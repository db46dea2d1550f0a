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

  it('POST is not enabled for authorization requests: 405 with Allow, in the OAuth shape, no redirect', async () => {
    const res = await http
      .post('/authorize')
      .type('form')
      .send(new URLSearchParams(authorizeParams()).toString());
    expect({
      status: res.status,
      allow: res.headers.allow,
      location: res.headers.location,
      text: res.text,
    }).toEqual({
      status: 405,
      allow: 'GET, HEAD',
      location: undefined,
      text: JSON.stringify({
        error: 'invalid_request',
        error_description: 'method not allowed: POST /authorize (allowed: GET, HEAD)',
      }),
    });
  });
});
