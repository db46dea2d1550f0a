import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { createInitialAccessToken } from '../../src/oidc/initial-access-tokens.js';
import { GENEROUS_RATE_LIMITS, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { basicAuth } from '../support/flows.js';

/**
 * Trust boundary: what a client registering itself at /register (RFC 7591) may ask for. Anyone
 * holding an initial access token (or anyone at all, with registration.open) can register, so
 * nothing registered there may carry a right an operator grants, make Gatehouse fetch a URL,
 * deceive the user with its name, or fill the store.
 */

const IAT = 'configured-initial-access-token-0123456789';
const REDIRECT = 'https://attacker.example/cb';
const UNVERIFIED = /id="unverified-client"[^>]*>This application registered itself/;

const registration = (overrides: Record<string, unknown> = {}) => ({
  enabled: true,
  open: false,
  initialAccessTokens: [IAT],
  maxRegistrationsPerHour: 1000,
  ...overrides,
});

/** POSTs `metadata` to /register with `token` as the initial access token (null: none). */
async function register(issuer: string, metadata: Record<string, unknown>, token: string | null = IAT) {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('self-registration at /register', () => {
  let gh: RunningGatehouse;
  let local: Server;
  let localHits = 0;
  let localUrl: string;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { registration: registration() } });
    // A service only this machine reaches: what an SSRF would aim at.
    local = createServer((_req, res) => {
      localHits += 1;
      res.end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    localUrl = `http://127.0.0.1:${(local.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await gh?.stop();
    await new Promise((resolve) => local?.close(resolve));
  });

  const expectRefused = async (
    metadata: Record<string, unknown>,
    pattern: RegExp,
    error = 'invalid_client_metadata',
  ) => {
    const res = await register(gh.issuer, { redirect_uris: [REDIRECT], ...metadata });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(String(res.body.error_description)).toMatch(pattern);
  };

  it.each([
    ['gatehouse_resource_server', true],
    ['gatehouse_may_exchange_from', [TEST_CLIENTS.web.client_id]],
    ['gatehouse_aws_client', true],
    ['gatehouse_aws_registration_used', true],
  ])('refuses Gatehouse rights metadata: %s', async (key, value) => {
    await expectRefused({ [key]: value }, new RegExp(`${key} cannot be self-registered`));
  });

  it.each([
    'client_credentials',
    'urn:ietf:params:oauth:grant-type:jwt-bearer',
    'urn:ietf:params:oauth:grant-type:token-exchange',
  ])('refuses grant type %s (it acts without a user)', async (grant) => {
    await expectRefused(
      { grant_types: ['authorization_code', grant], response_types: ['code'] },
      /is not allowed for self-registered clients/,
    );
  });

  it.each([
    ['jwks_uri', () => `${localUrl}/jwks`],
    ['sector_identifier_uri', () => `${localUrl}/sector`],
  ])('refuses %s pointing at a loopback service (SSRF), without fetching it', async (key, value) => {
    await expectRefused({ [key]: value() }, new RegExp(`${key} is not accepted`));
    expect(localHits).toBe(0);
  });

  it('refuses jwks_uri on a public host too (keys are given inline as jwks)', async () => {
    await expectRefused(
      { jwks_uri: 'https://keys.example.com/jwks', token_endpoint_auth_method: 'private_key_jwt' },
      /jwks_uri is not accepted.*use jwks/,
    );
  });

  it.each([
    ['backchannel_logout_uri', () => `${localUrl}/logout`],
    ['request_uris', () => [`${localUrl}/request`]],
  ])('never stores %s pointing at a loopback service (SSRF)', async (key, value) => {
    const res = await register(gh.issuer, { redirect_uris: [REDIRECT], [key]: value() });
    // Refused where the feature using it is on; otherwise the library drops the unknown member.
    if (res.status === 400) expect(res.body.error).toBe('invalid_client_metadata');
    else expect(res.body).not.toHaveProperty(key);
    expect(localHits).toBe(0);
  });

  it('refuses post_logout_redirect_uris on a host the client has no redirect_uri on (open redirect)', async () => {
    await expectRefused(
      { post_logout_redirect_uris: ['https://elsewhere.example/bye'] },
      /post_logout_redirect_uris must be on the scheme and host/,
    );
    const ok = await register(gh.issuer, {
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ['https://attacker.example/bye'],
    });
    expect(ok.status).toBe(201);
  });

  it.each([
    ['a right-to-left override', 'Evil\u202Etxt.exe'],
    ['a zero-width space', 'Web\u200BApp'],
    ['a control character', 'Web\nApp'],
    ['129 characters', 'x'.repeat(129)],
    ['only spaces', '   '],
  ])('refuses a client_name with %s', async (_what, name) => {
    await expectRefused({ client_name: name }, /client_name must/);
  });

  it('bounds list and string sizes', async () => {
    await expectRefused(
      { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://attacker.example/cb${i}`) },
      /redirect_uris may hold at most 10 entries/,
      'invalid_redirect_uri', // RFC 7591 §3.2.2's code for a redirect_uris problem
    );
    await expectRefused(
      { redirect_uris: [`https://attacker.example/${'a'.repeat(2100)}`] },
      /redirect_uris entries must be at most 2048 characters/,
      'invalid_redirect_uri',
    );
    await expectRefused(
      { client_uri: `https://attacker.example/${'a'.repeat(2100)}` },
      /client_uri must be at most/,
    );
    await expectRefused({ scope: Array(26).fill('openid').join(' ') }, /scope may hold at most 25 values/);
    await expectRefused(
      { contacts: Array.from({ length: 11 }, (_, i) => `a${i}@attacker.example`) },
      /contacts may hold at most 10 entries/,
    );
  });

  it('grants nothing through a "__proto__" member in the JSON body', async () => {
    const res = await fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${IAT}` },
      body: `{"redirect_uris":["${REDIRECT}"],"__proto__":{"gatehouse_resource_server":true,"grant_types":["client_credentials"]}}`,
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === 400) return expect(body.error).toBe('invalid_client_metadata');
    expect(res.status).toBe(201);
    expect(body).not.toHaveProperty('gatehouse_resource_server');
    expect(body.grant_types).toEqual(['authorization_code']);
    const client = await gh.provider.Client.find(String(body.client_id));
    expect((client as unknown as Record<string, unknown>).gatehouseResourceServer).toBeUndefined();
    expect(client?.grantTypes).toEqual(['authorization_code']);
  });

  it('refuses redirect URIs configured clients may not have either', async () => {
    for (const uri of ['javascript:alert(1)', 'https://attacker.example/cb#fragment', 'not a uri']) {
      const res = await register(gh.issuer, { redirect_uris: [uri] });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/^invalid_(redirect_uri|client_metadata)$/);
    }
  });

  it('gives a registered client no introspection rights over other clients’ tokens', async () => {
    const client = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    const service = TEST_CLIENTS.service;
    const issued = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(service.client_id, service.client_secret),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read' }),
    });
    const { access_token } = (await issued.json()) as { access_token: string };
    const introspected = await fetch(`${gh.issuer}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(String(client.body.client_id), String(client.body.client_secret)),
      },
      body: new URLSearchParams({ token: access_token }),
    });
    expect(introspected.status).toBe(200);
    expect(await introspected.json()).toEqual({ active: false });
  });

  it('refuses the same rights when a client replaces its metadata (RFC 7592 PUT)', async () => {
    const { body } = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    const put = (changes: Record<string, unknown>) =>
      fetch(String(body.registration_client_uri), {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${String(body.registration_access_token)}`,
        },
        body: JSON.stringify({ client_id: body.client_id, redirect_uris: [REDIRECT], ...changes }),
      });
    for (const changes of [
      { gatehouse_resource_server: true },
      { grant_types: ['authorization_code', 'client_credentials'] },
      { jwks_uri: `${localUrl}/jwks` },
    ]) {
      const res = await put(changes);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    expect(localHits).toBe(0);
  });

  it('does not let one client’s registration access token manage another client', async () => {
    const first = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    const second = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    const res = await fetch(String(second.body.registration_client_uri), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${String(first.body.registration_access_token)}` },
    });
    expect(res.status).toBe(401);
    const stillThere = await fetch(String(second.body.registration_client_uri), {
      headers: { authorization: `Bearer ${String(second.body.registration_access_token)}` },
    });
    expect(stillThere.status).toBe(200);
  });

  it('requires PKCE of registered clients', async () => {
    const { body } = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    const res = await fetch(
      `${gh.issuer}/authorize?${new URLSearchParams({
        client_id: String(body.client_id),
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 's',
      })}`,
      { redirect: 'manual' },
    );
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe('https://attacker.example');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('keeps initial and registration access tokens out of the store (only their hashes)', async () => {
    const created = await createInitialAccessToken(gh.store, { trusted: false });
    const { body } = await register(gh.issuer, { redirect_uris: [REDIRECT] }, created.token);
    const keys = [
      ...(await gh.store.listKeys('InitialAccessToken:')),
      ...(await gh.store.listKeys('RegistrationAccessToken:')),
    ];
    expect(keys.length).toBeGreaterThan(1);
    const everything = JSON.stringify(
      await Promise.all(keys.map((key) => gh.store.adapter(key.split(':')[0]!).find(key.split(':')[1]!))),
    );
    for (const secret of [created.token, String(body.registration_access_token)]) {
      expect(keys.join('\n')).not.toContain(secret);
      expect(everything).not.toContain(secret);
    }
  });

  describe('what the sign-in page says about the registered application', () => {
    async function signInPage(clientId: string) {
      const ua = new UserAgent(gh.issuer);
      const url = `${gh.issuer}/authorize?${new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`;
      const login = await ua.follow(url);
      const html = await login.res.text();
      expect(html).toContain('name="password"');
      readForm(html); // the page is the sign-in form
      return html;
    }

    it('marks a client registered with an ordinary token as registered by a third party', async () => {
      const { body } = await register(gh.issuer, {
        client_name: 'Totally Official',
        redirect_uris: [REDIRECT],
      });
      expect(await signInPage(String(body.client_id))).toMatch(UNVERIFIED);
    });

    it('says it on the device confirmation page too', async () => {
      const { body } = await register(gh.issuer, {
        client_name: 'Device CLI',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      });
      expect(body.client_id).toEqual(expect.any(String));
      const started = await fetch(`${gh.issuer}/device_authorization`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: String(body.client_id), scope: 'openid' }),
      });
      const { verification_uri_complete } = (await started.json()) as { verification_uri_complete: string };
      const ua = new UserAgent(gh.issuer);
      const entry = await ua.follow(verification_uri_complete);
      const form = readForm(await entry.res.text());
      const confirm = await ua.submit(new URL(form.action, gh.issuer).href, form.fields);
      const html = await confirm.res.text();
      expect(html).toContain('Device CLI');
      expect(html).toMatch(UNVERIFIED);
    });

    it('ignores a client’s own claim to be trusted', async () => {
      const { status, body } = await register(gh.issuer, {
        redirect_uris: [REDIRECT],
        gatehouse_registration_trusted: true,
        gatehouse_registered: false,
      });
      expect(status).toBe(201);
      expect(body.gatehouse_registration_trusted).toBeUndefined();
      expect(body.gatehouse_registered).toBe(true);
      expect(await signInPage(String(body.client_id))).toMatch(UNVERIFIED);
    });

    it('does not mark a client registered with a trusted token, even after it replaces its metadata', async () => {
      const trusted = await createInitialAccessToken(gh.store, { trusted: true, label: 'ci' });
      const { body } = await register(
        gh.issuer,
        { client_name: 'Our app', redirect_uris: [REDIRECT] },
        trusted.token,
      );
      expect(await signInPage(String(body.client_id))).not.toContain('id="unverified-client"');
      const put = await fetch(String(body.registration_client_uri), {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${String(body.registration_access_token)}`,
        },
        body: JSON.stringify({
          client_id: body.client_id,
          client_name: 'Our app v2',
          redirect_uris: [REDIRECT],
        }),
      });
      expect(put.status).toBe(200);
      const html = await signInPage(String(body.client_id));
      expect(html).toContain('Our app v2');
      expect(html).not.toContain('id="unverified-client"');
    });
  });
});

describe('registration limits', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({
      overrides: {
        registration: registration({ maxRegistrationsPerHour: 2 }),
        rateLimits: {
          ...GENEROUS_RATE_LIMITS,
          registrationPerIp: { points: 6, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 },
        },
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
  });

  it('caps registrations per hour globally, counting only those stored, then limits per address', async () => {
    // Refused requests do not use the global cap up.
    for (let i = 0; i < 2; i += 1) {
      expect(
        (await register(gh.issuer, { redirect_uris: [REDIRECT], grant_types: ['client_credentials'] }))
          .status,
      ).toBe(400);
    }
    expect((await register(gh.issuer, { redirect_uris: [REDIRECT] })).status).toBe(201);
    expect((await register(gh.issuer, { redirect_uris: [REDIRECT] })).status).toBe(201);
    for (let i = 0; i < 2; i += 1) {
      const capped = await register(gh.issuer, { redirect_uris: [REDIRECT] });
      expect(capped.status).toBe(429);
      expect(capped.body.error).toBe('slow_down');
      expect(capped.body.error_description).toMatch(/too many clients registered recently/);
      expect(Number(capped.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Six requests so far from this address: the seventh is over the per-IP quota.
    const perIp = await register(gh.issuer, { redirect_uris: [REDIRECT] });
    expect(perIp.status).toBe(429);
    expect(String(perIp.body.error_description)).toMatch(/from this address/);
  });
});

describe('a client registered with a bad initial access token', () => {
  it('is never created', async () => {
    const gh = await startTestGatehouse({ overrides: { registration: registration() } });
    try {
      const before = (await gh.store.listKeys('Client:')).length;
      for (const token of ['', 'x', IAT.slice(0, -1), `${IAT}x`, IAT.toUpperCase()]) {
        const res = await register(gh.issuer, { redirect_uris: [REDIRECT] }, token || null);
        expect(res.status).toBe(401);
      }
      expect((await gh.store.listKeys('Client:')).length).toBe(before);
    } finally {
      await gh.stop();
    }
  });
});
