// What every target shares, made once per run: the private Redis (and, for the acknowledged-consume
// target, a replica of it), the configuration files, the baseline's settings and the minting helper.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from './processes.mjs';
import { CLIENTS, COOKIE_KEYS, PASSWORD, benchUser, gatehouseEnv, writeGatehouseConfig } from './setup.mjs';
import { startMinter } from './minter.mjs';
import { createRoundTripCounters } from './redis-round-trips.mjs';

/**
 * Starts Redis and the minter and writes the configuration; every stop goes onto `cleanups` (run
 * in reverse). Returns the Redis pid and a client for counting commands, the minter, and `env`:
 * the per-target settings startTargets needs.
 */
export async function prepareEnvironment({ root, scenarios, wants }, hash, cleanups) {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const redisClient = new Redis(redis.url);
  cleanups.push(() => redisClient.disconnect());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const users = [benchUser(hash), benchUser(PASSWORD, 'bench-plain', 'bench-user-0002')];
  const configFile = writeGatehouseConfig(dir, 'gatehouse', users[0]);
  const plainConfigFile = writeGatehouseConfig(dir, 'gatehouse-plain', benchUser(PASSWORD));
  // The acknowledged-consume target: the same Redis plus a replica of it, and one replica's WAIT
  // per consume (a plain redis:// URL, so the setting is explicit).
  const ackedConfigFile = writeGatehouseConfig(dir, 'gatehouse-acked', users[0], {
    redis: { consumeAckReplicas: 1 },
  });
  if (wants('gatehouse-acked') && scenarios.some((s) => s.targets.includes('gatehouse-acked'))) {
    const replica = await startRedis({ replicaOf: redis.port });
    cleanups.push(() => replica.stop());
  }
  const settingsFile = join(dir, 'settings.json');
  const settings = {
    users,
    baseline: { issuer: 'http://127.0.0.1', redisUrl: redis.url, clients: CLIENTS, cookieKeys: COOKIE_KEYS },
  };
  writeFileSync(settingsFile, JSON.stringify(settings));

  const baseEnv = { redisUrl: redis.url };
  const minterEnv = {
    ...gatehouseEnv({ ...baseEnv, port: 1, configFile, workers: 1, allowInsecure: ['http-issuer'] }),
    BENCH_SETTINGS: settingsFile,
  };
  const minter = await startMinter(root, minterEnv);
  cleanups.push(() => minter.stop());
  // The baseline signs with the very keys Gatehouse generated (the minter read them from Redis).
  settings.baseline.jwks = minter.jwks;
  writeFileSync(settingsFile, JSON.stringify(settings));

  const env = {
    root,
    settingsFile,
    // Each target reaches Redis through a proxy of its own that counts its round trips.
    roundTrips: createRoundTripCounters(redis.port, cleanups),
    floorFile: join(dir, 'floor-documents.json'),
    gatehouse: { ...baseEnv, configFile, allowInsecure: ['http-issuer'] },
    gatehouseAcked: { ...baseEnv, configFile: ackedConfigFile, allowInsecure: ['http-issuer'] },
    gatehousePlain: {
      ...baseEnv,
      configFile: plainConfigFile,
      allowInsecure: ['http-issuer', 'plain-passwords'],
    },
  };
  return { redisPid: redis.pid, redisClient, minter, env };
}
