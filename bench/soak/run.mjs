// npm run bench -- --soak [--soak-minutes 10] — see BENCHMARKS.md "Soak". Mixed traffic at about
// 70 % of the capacity measured at the start, against two Gatehouse instances (production
// configuration, as the bench's `gatehouse` target) on one Redis with the append-only file on;
// in the middle Redis is restarted once and the second instance stopped and started once.
// Checks: no 5xx but the documented 503 while Redis is down, no refresh token lost, resident
// memory and Redis's key count flat. Writes bench/results/soak-<time>.json and .svg.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../../dist/accounts/password.js';
import { machineInfo } from '../lib/machine.mjs';
import { startMinter } from '../lib/minter.mjs';
import { freePort, startServer } from '../lib/processes.mjs';
import {
  CLIENTS,
  COOKIE_KEYS,
  PASSWORD,
  benchUser,
  gatehouseEnv,
  writeGatehouseConfig,
} from '../lib/setup.mjs';
import { startAofRedis } from './redis-aof.mjs';
import { createSupplies } from './supplies.mjs';
import { createMix } from './mix.mjs';
import { createRecorder, createRouter, runClosedLoop, startOpenLoop } from './traffic.mjs';
import { startSampler } from './sampler.mjs';
import { restartInstance, restartRedis } from './faults.mjs';
import { checkInterrupted, checkRefreshSample } from './checks.mjs';
import { summarize } from './summary.mjs';
import { writeOutputs } from './output.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const log = (line) => process.stdout.write(`${line}\n`);

/**
 * The soak's TTLs: short enough that, well within the run, keys expire as fast as they are written
 * (with the shipped 14-day refresh tokens and grants a 10-minute run would only see the ramp).
 */
export function soakTtls(seconds) {
  const t = Math.max(60, Math.min(120, Math.round(seconds / 5)));
  return { accessToken: t, refreshToken: t, deviceCode: t, grant: t + 60, authorizationCode: 60 };
}

/** One line a minute: the last minute's answers, errors, and the latest memory and key count. */
function reportProgress(recorder, sampler, t0) {
  const minute = recorder.buckets.slice(-12);
  const sum = (key) => minute.reduce((n, b) => n + b[key], 0);
  const last = sampler.samples.at(-1);
  const rss = Object.entries(last?.rss ?? {})
    .map(([name, r]) => `${name} ${r ? Math.round(r.bytes / 2 ** 20) : '–'} MiB`)
    .join(', ');
  log(
    `soak: ${Math.round((Date.now() - t0) / 1000)} s: ${Math.round(sum('n') / 60)} answers/s, ${sum('s503')} × 503, ${sum('s5xx')} other 5xx, ${sum('conn')} connection errors, ${sum('unexpected')} unexpected; ${rss}; ${last?.dbsize ?? '–'} keys; other processes ${last?.cpu.other ?? '–'} cores`,
  );
}

/**
 * @param {{ minutes: number, load: number, sampleSize: number, write: boolean, label?: string }} options
 * @returns {Promise<number>} the exit code: 1 when a check failed
 */
export async function runSoak(options) {
  const seconds = Math.round(options.minutes * 60);
  const ttl = soakTtls(seconds);
  const cleanups = [];
  try {
    const startedAt = new Date();
    const machine = machineInfo(ROOT); // the commit measured, read before anything can change it
    log(`soak: ${options.minutes} min at ${options.load * 100} % of capacity; TTLs ${JSON.stringify(ttl)}`);
    const redis = await startAofRedis();
    cleanups.push(() => redis.stop());
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    const user = benchUser(await hashPassword(PASSWORD));
    const configFile = writeGatehouseConfig(dir, 'gatehouse', user, { ttl });
    const settingsFile = join(dir, 'settings.json');
    const settings = {
      users: [user],
      baseline: {
        issuer: 'http://127.0.0.1',
        redisUrl: redis.url,
        clients: CLIENTS,
        cookieKeys: COOKIE_KEYS,
      },
    };
    writeFileSync(settingsFile, JSON.stringify(settings));
    const env = { redisUrl: redis.url, configFile, workers: 1, allowInsecure: ['http-issuer'] };
    const minter = await startMinter(ROOT, {
      ...gatehouseEnv({ ...env, port: 1 }),
      BENCH_SETTINGS: settingsFile,
    });
    cleanups.push(() => minter.stop());

    const instances = [];
    for (const name of ['gatehouse-a', 'gatehouse-b']) {
      const port = await freePort();
      const start = () =>
        startServer({
          name,
          args: [join(ROOT, 'dist', 'main.js')],
          env: gatehouseEnv({ ...env, port }),
          readyLine: 'Gatehouse is running at',
        });
      instances.push({ name, port, start, server: await start() });
    }
    cleanups.push(() => Promise.all(instances.map((i) => i.server.stop())));
    const router = createRouter(instances);
    cleanups.push(() => router.close());

    const supplies = createSupplies({
      mint: (kind, clientId, count) => minter.mint('gatehouse', kind, clientId, count),
      ttl,
      log,
    });
    const interrupted = [];
    const mix = createMix({ supplies, onInterrupted: (taken) => interrupted.push(taken) });
    await supplies.prime();
    const ticker = setInterval(() => supplies.tick(), 1000);
    cleanups.push(() => clearInterval(ticker));
    const issuer = (recorder) => async () => {
      const { name, request } = mix.next();
      const result = await router.request(request);
      recorder.record(name, result, request.settle(result));
      return true;
    };

    // Capacity: the same mix, 16 requests in flight per instance, after a warm-up.
    const probeSeconds = Math.max(10, Math.min(30, Math.round(seconds / 20)));
    await runClosedLoop({ seconds: 5, concurrency: 32, issue: issuer(createRecorder(Date.now())) });
    const probe = createRecorder(Date.now());
    const capacity = await runClosedLoop({ seconds: probeSeconds, concurrency: 32, issue: issuer(probe) });
    const probeErrors = probe.buckets.reduce((n, b) => n + b.n - b.ok, 0);
    const rate = Math.round(capacity * options.load);
    log(
      `soak: capacity ${Math.round(capacity)} req/s (${probeErrors} errors in the probe); sending ${rate} req/s`,
    );

    const t0 = Date.now();
    const recorder = createRecorder(t0);
    const events = [];
    const event = (what, at) => {
      const t = Math.round((at - t0) / 100) / 10;
      events.push({ t, what });
      log(`soak: ${t.toFixed(1).padStart(6)} s  ${what}`);
    };
    const sampler = startSampler({ t0, instances, redis });
    const progress = setInterval(() => reportProgress(recorder, sampler, t0), 60_000);
    cleanups.push(() => clearInterval(progress));
    const load = startOpenLoop({ rate, issue: issuer(recorder), recorder });
    const at = (fraction) => sleep(Math.max(0, t0 + fraction * seconds * 1000 - Date.now()));

    // Redis restart at 40 % of the run; the refresh tokens issued in the 20 s before it are kept.
    await sleep(Math.max(0, t0 + 0.4 * seconds * 1000 - 20_000 - Date.now()));
    supplies.startRefreshSample(options.sampleSize);
    await at(0.4);
    const sample = supplies.endRefreshSample();
    event(`${sample.length} refresh tokens issued just before the restart set aside`, Date.now());
    const redisTimes = await restartRedis({ redis, instances, event });
    await sleep(2000);
    const refreshSample = await checkRefreshSample(router, sample);
    event(`sample redeemed: ${refreshSample.redeemedOnce}/${refreshSample.sampled} once`, Date.now());
    const cutOff = interrupted.splice(0);
    const stillValid = cutOff.filter((x) => Math.min(x.expiresAt, x.grantExpiresAt) - Date.now() > 5000);
    const checked = await checkInterrupted(router, stillValid);
    const interruptedResult = {
      ...checked,
      refusedInterruptedAt: checked.refusedInterruptedAt.map((x) => ({
        t: (x.at - t0) / 1000,
        status: x.status,
      })),
      expiredBeforeCheck: cutOff.length - stillValid.length,
    };

    // Second instance stopped and started at 60 % of the run.
    await at(0.6);
    const instanceRestart = await restartInstance({
      router,
      instance: instances[1],
      start: instances[1].start,
      downSeconds: 10,
      event,
    });

    await at(1);
    await load.stop();
    event('traffic stopped', Date.now());
    const keyFamilies = await sampler.stop();
    const results = summarize({
      startedAt,
      options: { ...options, seconds, ttl, probeSeconds, connectionsInProbe: 32 },
      machine,
      capacity,
      probeErrors,
      rate,
      recorder,
      samples: sampler.samples,
      keyFamilies,
      events,
      redisTimes: Object.fromEntries(Object.entries(redisTimes).map(([k, v]) => [k, (v - t0) / 1000])),
      refreshSample,
      interrupted: interruptedResult,
      instanceRestart: {
        ...instanceRestart,
        times: Object.fromEntries(
          Object.entries(instanceRestart.times).map(([k, v]) => [k, (v - t0) / 1000]),
        ),
      },
      starved: mix.starved,
      mintFailures: supplies.mintFailures,
    });
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    await writeOutputs(ROOT, results, options, log);
    return results.checks.every((c) => c.met) ? 0 : 1;
  } finally {
    while (cleanups.length) {
      try {
        await cleanups.pop()();
      } catch (err) {
        log(`soak: cleanup failed: ${err.message}`);
      }
    }
  }
}
