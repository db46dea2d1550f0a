import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_USERS } from '../support/gatehouse.js';
import { readForm, signIn, UserAgent } from '../support/browserless.js';
import { authorizeParams, BODY_LIMIT, errorPage, FORM, query } from './bad-input-support.js';

const ALICE = { username: TEST_USERS.alice.username, password: TEST_USERS.alice.password };

/** Bad input at the pages a browser posts to: sign-in (interactions) and device code entry. */
describe('bad input at the sign-in and device pages', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const formUnreadable = { error: 'invalid_request', error_description: 'The form could not be read.' };

  describe('the sign-in form', () => {
    /** Opens the sign-in page for web-app and returns the browser, form action and fields. */
    async function openLogin() {
      const ua = new UserAgent(gh.issuer);
      const authorize = `${gh.issuer}/authorize${query(Object.entries(authorizeParams()))}`;
      const { res, url } = await ua.follow(authorize);
      const form = readForm(await res.text());
      const post = (body: BodyInit, headers: Record<string, string> = {}) =>
        ua.request(new URL(form.action, url).href, {
          method: 'POST',
          headers: { 'content-type': FORM, ...headers },
          body,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
      return { ua, authorize, fields: form.fields, post };
    }
    const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as unknown });

    it('refuses unreadable bodies as the client error each is, and the sign-in still works after', async () => {
      const { ua, authorize, fields, post } = await openLogin();
      const form = new URLSearchParams({ ...fields, ...ALICE }).toString();

      expect(await json(await post(form, { 'content-encoding': 'gzip' }))).toEqual({
        status: 400,
        body: formUnreadable,
      });
      expect(await json(await post(form, { 'content-encoding': 'x-no-such-coding' }))).toEqual({
        status: 415,
        body: formUnreadable,
      });
      const chunks = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 5; i += 1) controller.enqueue(new TextEncoder().encode('a'.repeat(20000)));
          controller.close();
        },
      });
      expect(await json(await post(chunks))).toEqual({
        status: 413,
        body: { error: 'invalid_request', error_description: 'request body exceeds 65536 bytes' },
      });
      expect(await json(await post(`${form}&pad=${'a'.repeat(BODY_LIMIT)}`))).toEqual({
        status: 413,
        body: { error: 'invalid_request', error_description: 'request body exceeds 65536 bytes' },
      });

      // None of it spent the interaction: the browser can still sign in.
      const callback = await signIn(ua, authorize, TEST_USERS.alice);
      expect(callback.origin + callback.pathname).toBe('https://rp.example.com/cb');
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    });

    it('a JSON body, or a form without its CSRF token, is refused with 403', async () => {
      const { fields, post } = await openLogin();
      const csrfRefused = {
        status: 403,
        body: {
          error: 'invalid_request',
          error_description: 'The form has expired or was not sent by this site. Go back and try again.',
        },
      };
      const body = { ...fields, ...ALICE };
      expect(await json(await post(JSON.stringify(body), { 'content-type': 'application/json' }))).toEqual(
        csrfRefused,
      );
      const withoutCsrf = new URLSearchParams(ALICE).toString();
      expect(await json(await post(withoutCsrf))).toEqual(csrfRefused);
      const csrfTwice = `${new URLSearchParams(body).toString()}&csrf=${fields.csrf}`;
      expect(await json(await post(csrfTwice))).toEqual(csrfRefused);
    });

    it('array, object or invalid-UTF-8 credentials are a failed sign-in (401), not an error', async () => {
      const { fields, post } = await openLogin();
      const csrf = `csrf=${encodeURIComponent(fields.csrf!)}`;
      for (const credentials of ['username[]=alice&password[x]=y', 'username=%ff%fe&password=%c3%28']) {
        const res = await post(`${csrf}&${credentials}`);
        expect(res.status).toBe(401);
        expect(await res.text()).toContain('Incorrect username or password.');
      }
    });

    it('without the interaction cookie: 400 invalid_request, as JSON or as the error page', async () => {
      const res = await http.get('/interaction/xyz');
      expect({ status: res.status, body: res.body }).toEqual({
        status: 400,
        body: {
          error: 'invalid_request',
          error_description:
            'This sign-in page has expired or was opened in another browser. Start again from the application.',
        },
      });
      const page = await http.get('/interaction/xyz').set('accept', 'text/html');
      expect(page.status).toBe(400);
      expect(errorPage(page.text).error).toBe('invalid_request');
      const posted = await http.post('/interaction/xyz/login').type('form').send('username=alice');
      expect(posted.status).toBe(400);
      expect(posted.body).toEqual(res.body);
    });
  });

  describe('the device code entry page', () => {
    it('without a browser session, a code post or a resume sends the browser to the entry page', async () => {
      const signature = '_session=forged; _session.sig=forged';
      for (const res of [
        await http.post('/device').type('form').send('user_code=BCDF-GHJK'),
        await http.post('/device').set('cookie', signature).type('form').send('user_code=BCDF-GHJK&xsrf=x'),
        await http.post('/device').set('content-type', 'application/json').send('{"user_code":1}'),
        await http.get('/device/some-uid'),
        await http.head('/device/some-uid'),
      ]) {
        expect({ status: res.status, location: res.headers.location }).toEqual({
          status: 303,
          location: '/device',
        });
      }
    });

    it('within a session, a bad form secret or an unknown code re-renders the page with 400', async () => {
      const ua = new UserAgent(gh.issuer);
      const entry = await ua.follow(`${gh.issuer}/device`);
      expect(entry.res.status).toBe(200);
      const form = readForm(await entry.res.text());
      const submit = (fields: Record<string, string>) =>
        ua.request(new URL(form.action, gh.issuer).href, {
          method: 'POST',
          headers: { 'content-type': FORM },
          body: new URLSearchParams(fields).toString(),
        });
      const cases: [Record<string, string>, string][] = [
        [{ xsrf: 'wrong', user_code: 'BCDF-GHJK' }, 'There was a problem with that code. Try again.'],
        [{ user_code: 'BCDF-GHJK' }, 'That code is not valid.'],
        [{ user_code: '' }, 'Enter the code shown on your device.'],
      ];
      let secret = form.fields;
      for (const [fields, message] of cases) {
        const res = await submit({ ...secret, ...fields });
        expect(res.status).toBe(400);
        const html = await res.text();
        expect(html).toContain(message);
        secret = readForm(html).fields; // each page carries a fresh form secret
      }
    });
  });

  describe('methods no route implements', () => {
    it.each(['TRACE', 'PROPFIND', 'PURGE'])('%s: 405 with the OAuth error shape', async (method) => {
      for (const path of ['/token', '/authorize', '/interaction/xyz', '/no/such/path']) {
        const res = await (http as unknown as Record<string, (url: string) => request.Test>)[
          method.toLowerCase()
        ]!(path);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 405,
          body: { error: 'invalid_request', error_description: `the ${method} method is not supported` },
        });
        expect(res.headers.allow).toBe('GET, HEAD, POST, PUT, DELETE, OPTIONS');
      }
    });
  });
});
