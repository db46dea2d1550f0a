import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { approveDevice, obtainCode, redeemCode, refresh } from '../support/flows.js';

const PARALLEL = 50;

describe.each(['memory', 'redis'])('single use under races (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: kind === 'redis' ? { REDIS_URL: redis!.url } : {},
      overrides: {
        deviceFlow: FAST_DEVICE_FLOW,
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  it(`gives exactly one success for ${PARALLEL} parallel redemptions of one authorization code`, async () => {
    for (let round = 0; round < 3; round += 1) {
      const { code, verifier } = await obtainCode(gh.issuer);
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, () => redeemCode(gh.issuer, code, verifier)),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      const losers = results.filter((r) => r.status !== 200);
      expect(losers).toHaveLength(PARALLEL - 1);
      for (const r of losers) expect(r.body.error).toBe('invalid_grant');
    }
  });

  it(`gives exactly one success for ${PARALLEL} parallel uses of one refresh token`, async () => {
    for (let round = 0; round < 3; round += 1) {
      const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
      const first = await redeemCode(gh.issuer, code, verifier);
      expect(first.body.refresh_token).toBeDefined();
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, () => refresh(gh.issuer, first.body.refresh_token!)),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
    }
  });

  it(`gives exactly one success for ${PARALLEL} parallel polls of one approved device code`, async () => {
    const device = TEST_CLIENTS.device;
    for (let round = 0; round < 3; round += 1) {
      const start = await fetch(`${gh.issuer}/device_authorization`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: device.client_id, scope: 'openid' }).toString(),
      });
      const auth = (await start.json()) as { device_code: string; verification_uri_complete: string };
      const page = await approveDevice(gh.issuer, auth.verification_uri_complete);
      expect(page).toContain('Device connected');
      const poll = () =>
        fetch(`${gh.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
            device_code: auth.device_code,
            client_id: device.client_id,
          }).toString(),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));
      const results = await Promise.all(Array.from({ length: PARALLEL }, poll));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
    }
  });
});
