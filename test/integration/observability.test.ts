import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { REDACT_PATHS } from '../../src/http/logger.js';
import {
  GENEROUS_RATE_LIMITS,
  TEST_CLIENTS,
  TEST_USERS,
  BOB_SCRYPT,
  RESOURCE,
} from '../support/gatehouse.js';
import { basicAuth, obtainCode, redeemCode, refresh } from '../support/flows.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

describe('logs and metrics', () => {
  let gh: RunningGatehouse;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    gh = await startGatehouse({
      port: 0,
      host: '127.0.0.1',
      env: { NODE_ENV: 'test', METRICS_TOKEN },
      logger: pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink),
      overrides: {
        clients: Object.values(TEST_CLIENTS),
        users: [TEST_USERS.alice, { ...TEST_USERS.bob, password: BOB_SCRYPT }],
        resourceServers: { [RESOURCE]: { scope: 'api:read api:write' } },
        rateLimits: GENEROUS_RATE_LIMITS,
      },
    });
  });
  afterAll(() => gh?.stop());

  it('never writes secrets to the logs, while logging every request with its id and audit events', async () => {
    const { code, verifier, ua } = await obtainCode(gh.issuer, { offline: true });
    const tokens = await redeemCode(gh.issuer, code, verifier);
    const rotated = await refresh(gh.issuer, tokens.body.refresh_token!);
    await refresh(gh.issuer, tokens.body.refresh_token!); // reuse: revokes the grant
    await fetch(`${gh.issuer}/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(TEST_CLIENTS.web.client_id, TEST_CLIENTS.web.client_secret),
      },
      body: new URLSearchParams({ token: rotated.body.access_token! }),
    });
    // A failed sign-in with a password that must not be logged.
    const again = await obtainCode(gh.issuer);
    expect(again.code).toEqual(expect.any(String));
    const cookies = (ua as unknown as { cookies: Map<string, string> }).cookies;

    const log = lines.join('\n');
    const secrets = [
      TEST_USERS.alice.password,
      TEST_CLIENTS.web.client_secret,
      code,
      verifier,
      tokens.body.access_token!,
      tokens.body.refresh_token!,
      tokens.body.id_token!,
      rotated.body.refresh_token!,
      // The session cookie and every cookie signature. (The interaction cookies hold the
      // interaction id, which is also in the sign-in page's URL and so in request lines.)
      ...[...cookies]
        .filter(([name]) => name === '_session' || name.endsWith('.sig'))
        .map(([, value]) => value),
    ];
    for (const secret of secrets) expect(log).not.toContain(secret);

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = parsed.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(5);
    for (const r of requests) expect(r.requestId).toEqual(expect.any(String));
    const events = new Set(parsed.filter((l) => l.audit).map((l) => l.event));
    for (const event of [
      'login.success',
      'consent.granted',
      'token.issued',
      'refresh_token.reuse',
      'grant.revoked',
      'token.revoked',
    ]) {
      expect(events).toContain(event);
    }
  });

  it('echoes the request id in X-Request-Id', async () => {
    const res = await fetch(`${gh.issuer}/jwks`, { headers: { 'x-request-id': 'trace-me-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    const fresh = await fetch(`${gh.issuer}/jwks`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics behind the configured bearer token, with the counters after traffic', async () => {
    expect((await fetch(`${gh.issuer}/metrics`)).status).toBe(401);
    await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(TEST_CLIENTS.service.client_id, TEST_CLIENTS.service.client_secret),
      },
      body: 'grant_type=client_credentials',
    });
    const res = await fetch(`${gh.issuer}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /gatehouse_http_requests_total\{route="token",method="POST",status="200",worker="0"\} \d+/,
    );
    expect(text).toMatch(/gatehouse_http_request_duration_seconds_bucket\{[^}]*route="token"[^}]*\} \d+/);
    expect(text).toMatch(/gatehouse_tokens_issued_total\{grant_type="client_credentials",worker="0"\} [1-9]/);
    expect(text).toMatch(/gatehouse_tokens_issued_total\{grant_type="authorization_code",worker="0"\} [1-9]/);
    expect(text).toMatch(/gatehouse_logins_total\{result="success",worker="0"\} [1-9]/);
    expect(text).toMatch(
      /gatehouse_store_operation_duration_seconds_count\{[^}]*operation="find",result="ok"[^}]*\} [1-9]/,
    );
    expect(text).toContain('gatehouse_store_errors_total');
    expect(text).toContain('gatehouse_rate_limited_total');
    expect(text).toMatch(/gatehouse_process_resident_memory_bytes\{worker="0"\} \d+/);
  });
});
