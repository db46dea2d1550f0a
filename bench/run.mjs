// npm run bench [-- --quick] — see BENCHMARKS.md. Starts its own redis-server, Gatehouse as in
// production (node dist/main.js), the bare oidc-provider baseline and the oauth2-mock-server peer,
// all on that Redis; loads each scenario with autocannon (a warm-up, then rounds of a fixed time,
// alternating the order of targets); writes bench/results/*.json and, for full runs of everything,
// the results section of BENCHMARKS.md. Exits non-zero when a scenario did not run or got unexpected
// answers, never because of its speed.
//
// This file only orchestrates; the parts live in bench/lib: options.mjs (arguments), machine.mjs
// (machine info, argon2id rate), environment.mjs (Redis, configuration, minter), targets.mjs (the
// servers under test), rounds.mjs (measurement), combine.mjs, results.mjs and report.mjs (output).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../dist/accounts/password.js';
import { rssOfServer } from './lib/processes.mjs';
import { PASSWORD } from './lib/setup.mjs';
import { parseOptions } from './lib/options.mjs';
import { argon2Rate, machineInfo } from './lib/machine.mjs';
import { prepareEnvironment } from './lib/environment.mjs';
import { prepareTargets, preflight, startTargets } from './lib/targets.mjs';
import { createMeasurer, createQuietWait } from './lib/rounds.mjs';
import { verdict, writeResults } from './lib/results.mjs';

// --soak: the endurance-and-faults scenario, on its own (bench/soak/; BENCHMARKS.md "Soak").
if (process.argv.includes('--soak')) {
  const { soakMain } = await import('./soak/main.mjs');
  process.exit(await soakMain(process.argv.slice(2)));
}

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (line) => process.stdout.write(`${line}\n`);
const ctx = { root, resultsDir: join(root, 'bench', 'results'), log, ...parseOptions() };
const { options, scenarios } = ctx;
const quick = options.quick;

const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (err) {
      log(`bench: cleanup failed: ${err.message}`);
    }
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

/** Runs every selected scenario against every target, for each worker count. */
async function measureAll(measurer, env, minter) {
  const runs = [];
  const memory = [];
  const failures = [];
  for (const workers of options.workers) {
    log(`\nbench: ${workers} worker${workers > 1 ? 's' : ''} per server`);
    const targets = await startTargets(ctx, workers, env);
    const stopTargets = () => Promise.all(targets.map((t) => t.server.stop()));
    cleanups.push(stopTargets);
    try {
      await sleep(quick ? 500 : 2000); // let start-up settle before reading idle memory
      for (const t of targets)
        memory.push({ target: t.name, workers, phase: 'idle', ...rssOfServer(t.server.pid) });
      await prepareTargets(targets);
      for (const t of targets.filter((x) => x.mintTarget)) await preflight(t, minter);
      for (const [i, scenario] of scenarios.entries()) {
        const eligible = targets.filter(
          (t) =>
            scenario.targets.includes(t.name) ||
            (t.name === 'gatehouse-compare' && scenario.targets.includes('gatehouse')),
        );
        const done = await measurer.runScenario(scenario, i, eligible, workers);
        runs.push(...done.runs);
        failures.push(...done.failures);
      }
      await sleep(quick ? 500 : 2000);
      for (const t of targets)
        memory.push({ target: t.name, workers, phase: 'after-load', ...rssOfServer(t.server.pid) });
    } finally {
      cleanups.splice(cleanups.indexOf(stopTargets), 1);
      await stopTargets();
    }
  }
  return { runs, memory, failures };
}

async function main() {
  mkdirSync(ctx.resultsDir, { recursive: true });
  const startedAt = new Date();
  const info = machineInfo(root);
  log(`bench: ${quick ? 'quick run' : 'full run'} on ${info.cores} × ${info.cpu}, node ${info.node}`);

  const waitForQuiet = createQuietWait();
  if (!quick) await waitForQuiet();
  const hash = await hashPassword(PASSWORD);
  const argon2 = await argon2Rate(hash, quick ? 0.5 : 3);
  log(
    `bench: ${argon2.parameters}: ${argon2.perSecond} verifications/s with every core busy, ${argon2.cpuMs} ms of CPU each (${argon2.perCore}/s per core)`,
  );

  const { redisPid, redisClient, minter, env } = await prepareEnvironment(ctx, hash, cleanups);
  const measurer = createMeasurer({ options, redisPid, redisClient, minter, log, waitForQuiet });
  const { runs, memory, failures } = await measureAll(measurer, env, minter);

  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    machine: info,
    argon2PerSecond: argon2.perSecond,
    argon2CpuMs: argon2.cpuMs,
    argon2PerCore: argon2.perCore,
    argon2Parameters: argon2.parameters,
    runs,
    memory,
    failures,
  };
  await writeResults(ctx, results);
  return verdict(ctx, results);
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`bench: ${err.stack ?? err}`);
} finally {
  await cleanup();
}
process.exit(code);
