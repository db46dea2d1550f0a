import { decodeProtectedHeader } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { rotateSigningKeys } from '../../src/keys/signing-keys.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { obtainCode, redeemCode } from '../support/flows.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kids = async (base: string) =>
  ((await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string; alg: string }[] }).keys.map(
    (k) => `${k.alg}:${k.kid}`,
  );

describe('signing-key rotation across instances', () => {
  let redis: RedisServer;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
    b = await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER: a.issuer } });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.destroy();
  });

  const idTokenKid = async () => {
    const { code, verifier } = await obtainCode(a.issuer);
    const tokens = await redeemCode(b.url, code, verifier);
    return decodeProtectedHeader(tokens.body.id_token!).kid;
  };

  it('publishes the new key before it signs, keeps the old one until its tokens expire, and every instance follows', async () => {
    const before = await kids(a.url);
    expect(before).toHaveLength(2);
    const oldRsa = before.find((k) => k.startsWith('RS256:'))!.slice(6);
    expect(await idTokenKid()).toBe(oldRsa);

    await rotateSigningKeys(a.store, { propagationSeconds: 2, maxTokenLifetimeSeconds: 2 });
    expect(await a.refreshKeys()).toBe(true);
    expect(await b.refreshKeys()).toBe(true);

    // Published at once on both instances, not yet signing.
    const published = await kids(a.url);
    expect(published).toHaveLength(4);
    expect(await kids(b.url)).toEqual(published);
    const newRsa = published
      .filter((k) => k.startsWith('RS256:'))
      .map((k) => k.slice(6))
      .find((k) => k !== oldRsa)!;
    expect(await idTokenKid()).toBe(oldRsa);

    // Active: the new key signs; the old one is still published for tokens it signed.
    await sleep(2100);
    await Promise.all([a.refreshKeys(), b.refreshKeys()]);
    expect(await idTokenKid()).toBe(newRsa);
    expect(await kids(b.url)).toContain(`RS256:${oldRsa}`);

    // Retired: gone from every instance.
    await sleep(2100);
    await Promise.all([a.refreshKeys(), b.refreshKeys()]);
    for (const base of [a.url, b.url]) {
      const now = await kids(base);
      expect(now).toHaveLength(2);
      expect(now).not.toContain(`RS256:${oldRsa}`);
      expect(now).toContain(`RS256:${newRsa}`);
    }
    expect(await idTokenKid()).toBe(newRsa);
  }, 30_000);
});
