import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { createRedisStore } from '../../src/storage/redis-store.js';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { describeStoreContract } from './store-contract.js';
import { startRedisCluster, startRedisSentinel, type Topology } from '../support/redis-topologies.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { obtainCode, redeemCode, refresh } from '../support/flows.js';

const openStore = (url: string) => {
  const config = loadConfig({ env: { REDIS_URL: url, NODE_ENV: 'test' } });
  return createRedisStore(config, config.redisConnection!, pino({ level: 'silent' }));
};

describe('Redis Cluster', () => {
  let cluster: Topology;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  describeStoreContract('redis-cluster', () => openStore(cluster.url));

  describe('Gatehouse on a cluster', () => {
    let gh: RunningGatehouse;
    beforeAll(async () => {
      gh = await startTestGatehouse({ env: { REDIS_URL: cluster.url } });
    });
    afterAll(() => gh?.stop());

    it('runs the code flow, refresh with rotation and reuse detection without CROSSSLOT errors', async () => {
      const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
      const tokens = await redeemCode(gh.issuer, code, verifier);
      expect(tokens.status).toBe(200);
      const rotated = await refresh(gh.issuer, tokens.body.refresh_token!);
      expect(rotated.status).toBe(200);
      const reuse = await refresh(gh.issuer, tokens.body.refresh_token!);
      expect(reuse.body.error).toBe('invalid_grant');
      // Reuse revoked the grant: the rotated token is dead too.
      expect((await refresh(gh.issuer, rotated.body.refresh_token!)).body.error).toBe('invalid_grant');
    });

    it('gives exactly one success for 50 parallel redemptions of one code', async () => {
      const { code, verifier } = await obtainCode(gh.issuer);
      const results = await Promise.all(
        Array.from({ length: 50 }, () => redeemCode(gh.issuer, code, verifier)),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    });
  });
});

describe('Redis Sentinel', () => {
  let sentinel: Topology;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 30_000);
  afterAll(async () => {
    await sentinel?.destroy();
  });

  describeStoreContract('redis-sentinel', () => openStore(sentinel.url));
});
