import { request as httpRequest } from 'node:http';
import request from 'supertest';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { basic, BODY_LIMIT, FORM, POST_CLIENT, WEB, WEB_AUTH } from './bad-input-support.js';

/**
 * Bad input at the endpoints where clients authenticate with a form body: /token, /revoke and
 * /introspect. Errors are `{ error, error_description }` as RFC 6749 §5.2, RFC 7009 §2.2.1 and
 * RFC 7662 §2.3 define them.
 */
describe('bad input at /token, /revoke and /introspect', () => {
  let gh: RunningGatehouse;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    http = request(gh.app.callback());
  });
  afterAll(() => gh?.stop());

  const post = (path: string, body: string, auth: string | null = WEB_AUTH) => {
    const req = http.post(path).set('content-type', FORM);
    if (auth) req.set('authorization', auth);
    return req.send(body);
  };
  const expectError = (res: request.Response, status: number, error: string, description: string) => {
    expect({ status: res.status, body: res.body }).toEqual({
      status,
      body: { error, error_description: description },
    });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  };
  const invalidClientChallenge = () =>
    `Basic realm="${gh.issuer}", error="invalid_client", error_description="client authentication failed"`;

  it('token and introspection errors are not cacheable (RFC 6749 §5.1)', async () => {
    for (const path of ['/token', '/introspect']) {
      const res = await post(path, 'grant_type=a&grant_type=b&token=a&token=b');
      expect({ status: res.status, cacheControl: res.headers['cache-control'] }).toEqual({
        status: 400,
        cacheControl: 'no-store',
      });
    }
  });

  describe('duplicate parameters', () => {
    it('grant_type twice at /token: invalid_request', async () => {
      const res = await post('/token', 'grant_type=authorization_code&grant_type=authorization_code&code=x');
      expectError(res, 400, 'invalid_request', "'grant_type' parameter must not be provided twice");
    });

    it('grant_type twice with different values: invalid_request', async () => {
      const res = await post('/token', 'grant_type=authorization_code&grant_type=client_credentials');
      expectError(res, 400, 'invalid_request', "'grant_type' parameter must not be provided twice");
    });

    it('code twice at /token: invalid_request', async () => {
      const res = await post(
        '/token',
        `grant_type=authorization_code&code=a&code=b&redirect_uri=${encodeURIComponent(WEB.redirect_uris[0])}`,
      );
      expectError(res, 400, 'invalid_request', "'code' parameter must not be provided twice");
    });

    it('token twice at /revoke and /introspect: invalid_request', async () => {
      for (const path of ['/revoke', '/introspect']) {
        const res = await post(path, 'token=a&token=b');
        expectError(res, 400, 'invalid_request', "'token' parameter must not be provided twice");
      }
    });

    it('client_id twice (client_secret_post): invalid_request', async () => {
      const res = await post(
        '/token',
        `grant_type=authorization_code&code=x&client_id=${POST_CLIENT.client_id}&client_id=${POST_CLIENT.client_id}&client_secret=${POST_CLIENT.client_secret}`,
        null,
      );
      expectError(res, 400, 'invalid_request', "'client_id' parameter must not be provided twice");
    });
  });

  describe('a JSON body where a form is expected', () => {
    it.each(['/token', '/revoke', '/introspect'])('%s: invalid_request', async (path) => {
      const res = await http
        .post(path)
        .set('authorization', WEB_AUTH)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ grant_type: 'client_credentials', token: 'x' }));
      expectError(
        res,
        400,
        'invalid_request',
        `only application/x-www-form-urlencoded content-type bodies are supported on POST ${path}`,
      );
    });

    it.each(['/token', '/revoke', '/introspect'])(
      '%s, any other content type: invalid_request',
      async (path) => {
        for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
          const res = await http
            .post(path)
            .set('authorization', WEB_AUTH)
            .set('content-type', type)
            .send(Buffer.from('grant_type=client_credentials&token=x'));
          expectError(
            res,
            400,
            'invalid_request',
            `only application/x-www-form-urlencoded content-type bodies are supported on POST ${path}`,
          );
        }
      },
    );

    it('a body without a content type is not read: its parameters are missing', async () => {
      for (const [path, missing] of [
        ['/token', 'grant_type'],
        ['/revoke', 'token'],
        ['/introspect', 'token'],
      ]) {
        const res = await http
          .post(path!)
          .set('authorization', WEB_AUTH)
          .unset('content-type')
          .send(Buffer.from('grant_type=client_credentials&token=x'));
        expectError(res, 400, 'invalid_request', `missing required parameter '${missing}'`);
      }
    });
  });

  describe('body size', () => {
    const padded = (size: number, prefix = 'grant_type=client_credentials&token=x&pad=') =>
      prefix + 'a'.repeat(size - prefix.length);

    it.each(['/token', '/revoke', '/introspect'])(
      '%s: over http.bodyLimitBytes (65536) is 413 with the OAuth error shape',
      async (path) => {
        const res = await post(path, padded(BODY_LIMIT + 1));
        expect(res.status).toBe(413);
        expect(res.body).toEqual({
          error: 'invalid_request',
          error_description: 'request body exceeds 65536 bytes',
        });
      },
    );

    it('the 413 comes before the body is read, whatever the endpoint or method', async () => {
      for (const path of [
        '/userinfo',
        '/device_authorization',
        '/logout',
        '/interaction/xyz/login',
        '/nope',
      ]) {
        const res = await post(path, padded(BODY_LIMIT + 1), null);
        expect({ path, status: res.status, body: res.body }).toEqual({
          path,
          status: 413,
          body: { error: 'invalid_request', error_description: 'request body exceeds 65536 bytes' },
        });
      }
    });

    it.each(['/token', '/revoke', '/introspect'])(
      "%s: between oidc-provider's 56 KiB and 64 KiB is invalid_request, never a 500",
      async (path) => {
        for (const size of [56 * 1024 + 1, 60000, BODY_LIMIT]) {
          const res = await post(path, padded(size));
          expectError(res, 400, 'invalid_request', 'failed to parse the request body');
        }
      },
    );

    it('an oversized body sent chunked (no Content-Length) is 413, like a declared one', async () => {
      const url = new URL(gh.url);
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: '/token',
            method: 'POST',
            headers: { 'content-type': FORM, authorization: WEB_AUTH, 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 5; i += 1) req.write(padded(20000, i === 0 ? 'pad=' : ''));
        req.end();
      });
      expect(result.status).toBe(413);
      expect(JSON.parse(result.body)).toEqual({
        error: 'invalid_request',
        error_description: 'request body exceeds 65536 bytes',
      });
    });
  });

  describe('client authentication', () => {
    it('an unknown client (Basic): 401 invalid_client with a Basic challenge', async () => {
      const res = await post('/token', 'grant_type=client_credentials', basic('no-such-client', 'secret'));
      expectError(res, 401, 'invalid_client', 'client authentication failed');
      expect(res.headers['www-authenticate']).toBe(invalidClientChallenge());
    });

    it('an unknown client (client_id in the body): 401 invalid_client', async () => {
      const res = await post('/token', 'grant_type=client_credentials&client_id=no-such-client', null);
      expectError(res, 401, 'invalid_client', 'client authentication failed');
    });

    it('a wrong client secret (Basic): 401 invalid_client with WWW-Authenticate', async () => {
      for (const path of ['/token', '/revoke', '/introspect']) {
        const res = await post(
          path,
          `grant_type=authorization_code&code=x&token=x&redirect_uri=${encodeURIComponent(WEB.redirect_uris[0])}`,
          basic(WEB.client_id, `${WEB.client_secret}-wrong`),
        );
        expectError(res, 401, 'invalid_client', 'client authentication failed');
        expect(res.headers['www-authenticate']).toBe(invalidClientChallenge());
      }
    });

    it('a wrong client secret (client_secret_post): 401 invalid_client', async () => {
      const res = await post(
        '/token',
        `grant_type=authorization_code&code=x&client_id=${POST_CLIENT.client_id}&client_secret=wrong`,
        null,
      );
      expectError(res, 401, 'invalid_client', 'client authentication failed');
    });

    it('a secret in both the Authorization header and the body: invalid_request', async () => {
      const res = await post(
        '/token',
        `grant_type=authorization_code&code=x&client_id=${WEB.client_id}&client_secret=${WEB.client_secret}`,
      );
      expectError(
        res,
        400,
        'invalid_request',
        'client authentication must only be provided using one mechanism',
      );
    });

    it('no client authentication at all: invalid_request', async () => {
      const res = await post('/token', 'grant_type=client_credentials', null);
      expectError(res, 400, 'invalid_request', 'no client authentication mechanism provided');
    });

    it.each([
      ['Basic', 'invalid authorization header value format'],
      ['Basic %%%', 'invalid authorization header value format'],
      [`Basic ${Buffer.from('no-colon').toString('base64')}`, 'invalid authorization header value format'],
      ['Bearer abc', 'invalid authorization header value format'],
      [
        `Basic ${Buffer.from('%ff:secret').toString('base64')}`,
        'client_id and client_secret in the authorization header are not properly encoded',
      ],
      [
        `Basic ${Buffer.from(`${WEB.client_id}:`).toString('base64')}`,
        'client_secret must be provided in the Authorization header',
      ],
    ])('a malformed Authorization header (%s): invalid_request', async (header, description) => {
      const res = await post('/token', 'grant_type=client_credentials', header);
      expectError(res, 400, 'invalid_request', description);
    });
  });

  describe('grant_type', () => {
    it.each(['password', 'implicit', 'urn:example:unknown', 'AUTHORIZATION_CODE'])(
      'unsupported grant_type %s: unsupported_grant_type',
      async (grantType) => {
        const res = await post('/token', `grant_type=${encodeURIComponent(grantType)}&username=a&password=b`);
        expectError(res, 400, 'unsupported_grant_type', 'unsupported grant_type requested');
      },
    );

    it('no grant_type: invalid_request', async () => {
      const res = await post('/token', 'code=x');
      expectError(res, 400, 'invalid_request', "missing required parameter 'grant_type'");
    });

    it('a supported grant the client is not registered for: unauthorized_client (RFC 6749 §5.2)', async () => {
      const res = await post('/token', 'grant_type=client_credentials');
      expectError(res, 400, 'unauthorized_client', 'requested grant type is not allowed for this client');
    });
  });
});
