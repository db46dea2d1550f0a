// npm run bench [-- --quick] — see BENCHMARKS.md. Starts its own redis-server, Gatehouse as in
// production (node dist/main.js), the bare oidc-provider baseline and the oauth2-mock-server peer,
// all on that Redis; loads each scenario with autocannon (a warm-up, then rounds of a fixed time,
// alternating the order of targets); writes bench/results/*.json and, for full runs of everything,
// the results section of BENCHMARKS.md. Exits non-zero when a scenario did not run or got unexpected
// answers, never because of its speed.
import { fork, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { verify as argon2Verify } from '@node-rs/argon2';
import { Redis } from 'ioredis';
import { decodeProtectedHeader } from 'jose';
import { hashPassword } from '../dist/accounts/password.js';
import {
  cpuSeconds,
  freePort,
  machineBusySeconds,
  processTree,
  redisCommands,
  rssOfServer,
  startRedis,
  startServer,
} from './lib/processes.mjs';
import {
  CLIENTS,
  COOKIE_KEYS,
  PASSWORD,
  REDIRECT_URI,
  basicAuth,
  benchUser,
  gatehouseEnv,
  writeGatehouseConfig,
} from './lib/setup.mjs';
import { BASELINE_REGISTRATION, SCENARIOS, Supply } from './lib/scenarios.mjs';
import { runLoad } from './lib/load.mjs';
import { renderReport, updateBenchmarksMd } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    retries: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '16' },
    workers: { type: 'string', default: '1,2' },
    scenarios: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'boolean', default: false },
    label: { type: 'string' },
    // Another build of Gatehouse to run (e.g. a "before" build for a comparison); default dist/main.js.
    'gatehouse-main': { type: 'string' },
    // Another build run side by side as target "gatehouse-compare" (before/after comparisons).
    compare: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

const quick = args.quick;
const options = {
  quick,
  warmupSeconds: Number(args.warmup ?? (quick ? 0 : 3)),
  durationSeconds: Number(args.duration ?? (quick ? 1 : 4)),
  rounds: Number(args.rounds ?? (quick ? 1 : 3)),
  /** Measurements repeated in all because other processes disturbed them (see DISTURBED). */
  retries: Number(args.retries ?? (quick ? 0 : 40)),
  connections: Number(args.connections),
  workers: args.workers.split(',').map(Number),
  scenarios: args.scenarios?.split(','),
  targets: args.targets?.split(','),
  profile: args.profile,
};
const scenarios = SCENARIOS.filter((s) => !options.scenarios || options.scenarios.includes(s.name));
if (scenarios.length === 0) throw new Error(`no scenario matches ${args.scenarios}`);
const wants = (name) => !options.targets || options.targets.includes(name);

/** Cores used by other processes above which a measurement counts as disturbed. */
const DISTURBED = 0.25;
let redisPid;
let redisClient;
const log = (line) => process.stdout.write(`${line}\n`);
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

/**
 * argon2id verifications per second on this machine with every core busy (the ceiling for
 * sign-ins), and the CPU one verification takes.
 */
async function argon2Rate(hash, seconds) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await argon2Verify(hash, PASSWORD);
      done += 1;
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: availableParallelism() * 2 }, worker));
  const used = process.cpuUsage(cpu);
  return {
    perSecond: Math.round((done / ((performance.now() - started) / 1000)) * 10) / 10,
    cpuMs: Math.round(((used.user + used.system) / 1000 / done) * 10) / 10,
  };
}

function machine() {
  const version = (cmd, argv) => {
    try {
      return execFileSync(cmd, argv, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const pkg = (name) =>
    JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: version('redis-server', ['--version']).replace(/^Redis server /, ''),
    oidcProvider: pkg('oidc-provider'),
    oauth2MockServer: pkg('oauth2-mock-server'),
    autocannon: pkg('autocannon'),
    commit: version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    dirty: version('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']) !== '',
  };
}

/** The minting helper (bench/mint.mjs) and a promise-based call into it. */
async function startMinter(env) {
  const child = fork(join(ROOT, 'bench', 'mint.mjs'), [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 0;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the minting helper exited (${code})`)));
    child.on('message', (message) => {
      if (message.ready) return resolve(message.jwks);
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) call?.reject(new Error(message.error));
      else call?.resolve(message.values);
    });
  });
  const jwks = await ready;
  return {
    jwks,
    mint(target, kind, clientId, count) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, op: 'mint', target, kind, clientId, count });
      });
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ op: 'stop' });
      await Promise.race([exited, sleep(5000)]);
      child.kill('SIGKILL');
    },
  };
}

async function post(url, body, headers) {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Functional checks before any load: codes minted through the models redeem, with the right alg. */
async function preflight(target, minter) {
  for (const [clientId, alg] of [
    ['bench-web', 'RS256'],
    ['bench-web-es256', 'ES256'],
  ]) {
    const [code] = await minter.mint(target.mintTarget, 'code', clientId, 1);
    const tokens = await post(
      `${target.url}/token`,
      new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
      { authorization: basicAuth(clientId) },
    );
    const got = decodeProtectedHeader(tokens.id_token).alg;
    if (got !== alg) throw new Error(`${target.name}: ${clientId} got an ${got} ID token, expected ${alg}`);
  }
}

async function startTargets(workers, env) {
  const targets = [];
  const needs = (name) => wants(name) && scenarios.some((s) => s.targets.includes(name));
  const profile = (name) =>
    options.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profiles', `${name}-w${workers}`)}`]
      : [];
  const gatehouseArgs = (name) => [...profile(name), args['gatehouse-main'] ?? join(ROOT, 'dist', 'main.js')];
  const starts = [];
  if (needs('gatehouse')) {
    const port = await freePort();
    starts.push(
      startServer({
        name: 'gatehouse',
        args: gatehouseArgs('gatehouse'),
        env: gatehouseEnv({ ...env.gatehouse, port, workers }),
        readyLine: 'Gatehouse is running at',
      }).then((server) => ({ name: 'gatehouse', kind: 'gatehouse', mintTarget: 'gatehouse', port, server })),
    );
  }
  if (args.compare && needs('gatehouse')) {
    const port = await freePort();
    starts.push(
      startServer({
        name: 'gatehouse-compare',
        args: [...profile('gatehouse-compare'), args.compare],
        env: gatehouseEnv({ ...env.gatehouse, port, workers }),
        readyLine: 'Gatehouse is running at',
      }).then((server) => ({
        name: 'gatehouse-compare',
        kind: 'gatehouse',
        mintTarget: 'gatehouse',
        port,
        server,
      })),
    );
  }
  if (needs('gatehouse-acked')) {
    const port = await freePort();
    starts.push(
      startServer({
        name: 'gatehouse-acked',
        args: gatehouseArgs('gatehouse-acked'),
        env: gatehouseEnv({ ...env.gatehouseAcked, port, workers }),
        readyLine: 'Gatehouse is running at',
      }).then((server) => ({
        name: 'gatehouse-acked',
        kind: 'gatehouse',
        mintTarget: 'gatehouse',
        port,
        server,
      })),
    );
  }
  if (needs('gatehouse-plain')) {
    const port = await freePort();
    starts.push(
      startServer({
        name: 'gatehouse-plain',
        args: gatehouseArgs('gatehouse-plain'),
        env: gatehouseEnv({ ...env.gatehousePlain, port, workers }),
        readyLine: 'Gatehouse is running at',
      }).then((server) => ({ name: 'gatehouse-plain', kind: 'gatehouse', port, server })),
    );
  }
  if (needs('baseline')) {
    const port = await freePort();
    starts.push(
      startServer({
        name: 'baseline',
        args: [...profile('baseline'), join(ROOT, 'bench', 'baseline.mjs')],
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          WORKERS: String(workers),
          BENCH_SETTINGS: env.settingsFile,
        },
        readyLine: 'baseline ready',
      }).then((server) => ({ name: 'baseline', kind: 'baseline', mintTarget: 'baseline', port, server })),
    );
  }
  if (needs('peer')) {
    const [port, portEs] = [await freePort(), await freePort()];
    starts.push(
      startServer({
        name: 'peer',
        args: [join(ROOT, 'bench', 'peer.mjs')],
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          PORT_ES256: String(portEs),
          WORKERS: String(workers),
          BENCH_SETTINGS: env.settingsFile,
        },
        readyLine: 'peer ready',
      }).then((server) => ({
        name: 'peer',
        kind: 'peer',
        port,
        server,
        urlEs256: `http://127.0.0.1:${portEs}`,
      })),
    );
  }
  const settled = await Promise.allSettled(starts);
  for (const s of settled) if (s.status === 'fulfilled') targets.push(s.value);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(targets.map((t) => t.server.stop()));
    throw failed.reason;
  }
  for (const t of targets) t.url = `http://127.0.0.1:${t.port}`;
  return targets;
}

/**
 * Per target: the ETags of discovery and /jwks (for the revalidation scenarios; only Gatehouse has
 * them), and the client the AWS scenarios use, registered the way its users would (RegisterClient
 * at Gatehouse, RFC 7591 /reg at the baseline).
 */
async function prepareTargets(targets) {
  for (const t of targets) {
    const etag = async (path) => (await fetch(`${t.url}${path}`)).headers.get('etag') ?? undefined;
    t.etags = { discovery: await etag('/.well-known/openid-configuration'), jwks: await etag('/jwks') };
    if (t.kind === 'gatehouse' && t.mintTarget) {
      const r = await post(
        `${t.url}/aws/oidc/client/register`,
        JSON.stringify({ clientName: 'bench-aws-cli', clientType: 'public' }),
        { 'content-type': 'application/json' },
      );
      t.awsClient = { clientId: r.clientId, clientSecret: r.clientSecret };
    } else if (t.name === 'baseline') {
      const r = await post(
        `${t.url}/reg`,
        JSON.stringify({ ...BASELINE_REGISTRATION, client_name: 'bench-aws-cli' }),
        { 'content-type': 'application/json' },
      );
      t.awsClient = { clientId: r.client_id, clientSecret: r.client_secret };
    }
  }
}

/** How long a run may wait for other processes to leave the machine alone, in all. */
let quietBudgetMs = 30 * 60_000;

/**
 * Waits until the machine has been nearly idle for 3 seconds in a row (between measurements the
 * servers idle, so what is busy then is someone else), within what is left of quietBudgetMs.
 */
async function waitForQuiet() {
  const started = Date.now();
  let quiet = 0;
  while (quiet < 3 && Date.now() - started < quietBudgetMs) {
    const before = machineBusySeconds();
    await sleep(1000);
    quiet = machineBusySeconds() - before < 0.15 ? quiet + 1 : 0;
  }
  quietBudgetMs = Math.max(0, quietBudgetMs - (Date.now() - started));
}

/**
 * One round of a scenario against one target: mint what it needs, warm up, mint again for the
 * measured time (from the warm-up's rate), measure. Also measures the CPU each party used (in
 * cores), the commands Redis ran per unit of work, and the server's peak RSS.
 */
async function runRound(scenario, target, minter, warmupSeconds) {
  const { durationSeconds, connections } = options;
  const clientId = scenario.mint?.client === 'aws' ? target.awsClient?.clientId : scenario.mint?.client;
  const minted = async (count) =>
    new Supply(await minter.mint(target.mintTarget, scenario.mint.kind, clientId, count), {
      consume: scenario.mint.consume,
    });
  const needsSupply = scenario.mint && target.kind !== 'peer';
  let supply;
  if (needsSupply) {
    // Without a warm-up (--quick): enough for the measurement at any rate this machine reaches.
    const first = warmupSeconds > 0 ? warmupSeconds : durationSeconds;
    supply = await minted(scenario.mint.consume ? Math.ceil(3000 * first) + 300 : scenario.mint.count);
  }
  let built = scenario.build(target, supply);
  let warmupRate;
  if (warmupSeconds > 0) {
    const warm = await runLoad({
      url: built.url ?? target.url,
      duration: warmupSeconds,
      connections,
      ...built,
    });
    warmupRate = Math.round(warm.rate);
    if (needsSupply && scenario.mint.consume) {
      supply = await minted(Math.ceil(Math.max(warm.rate, 100) * durationSeconds * 1.5) + 300);
      built = scenario.build(target, supply);
    }
  }
  let peak = { total: 0, largest: 0 };
  const sampleRss = () => {
    const rss = rssOfServer(target.server.pid);
    peak = { total: Math.max(peak.total, rss.total), largest: Math.max(peak.largest, rss.largest) };
  };
  const serverPids = processTree(target.server.pid);
  const readCpu = () => ({
    server: cpuSeconds(serverPids),
    redis: cpuSeconds([redisPid]),
    loadGenerator: cpuSeconds([process.pid]),
    machine: machineBusySeconds(),
  });
  const commandsBefore = await redisCommands(redisClient);
  const cpuBefore = readCpu();
  const wallBefore = performance.now();
  const result = await runLoad({
    url: built.url ?? target.url,
    duration: durationSeconds,
    connections,
    ...built,
    onSample: sampleRss,
  });
  const wall = (performance.now() - wallBefore) / 1000;
  const cpuAfter = readCpu();
  const commands = (await redisCommands(redisClient)) - commandsBefore - 1;
  const cores = (key) => Math.round(((cpuAfter[key] - cpuBefore[key]) / wall) * 100) / 100;
  const cpu = { server: cores('server'), redis: cores('redis'), loadGenerator: cores('loadGenerator') };
  // Whatever else ran on the machine meanwhile (other processes compete for the same cores).
  cpu.other = Math.max(
    0,
    Math.round((cores('machine') - cpu.server - cpu.redis - cpu.loadGenerator) * 100) / 100,
  );
  sampleRss();
  return {
    ...result,
    redisCommandsPerUnit: result.units ? Math.round((commands / result.units) * 10) / 10 : 0,
    exhausted: supply?.exhausted ?? 0,
    warmupRate,
    cpu,
    rssPeak: peak,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round1 = (n) => Math.round(n * 10) / 10;

/** Rounds of one scenario and target combined: medians of rates and latencies, sums of errors. */
function combine(scenario, target, workers, rounds) {
  const pick = (key) => rounds.map((r) => r[key]);
  return {
    scenario: scenario.name,
    workers,
    target: target.name,
    unit: scenario.unit ?? 'req/s',
    rate: round1(median(pick('rate'))),
    rounds: rounds.map((r) => ({
      rate: round1(r.rate),
      p50: r.p50,
      p99: r.p99,
      cpu: r.cpu,
      errors: r.errors,
    })),
    httpRequestsPerSecond: Math.round(median(pick('httpRequestsPerSecond'))),
    p50: median(pick('p50')),
    p99: median(pick('p99')),
    errors: pick('errors').reduce((a, b) => a + b, 0),
    timeouts: pick('timeouts').reduce((a, b) => a + b, 0),
    exhausted: pick('exhausted').reduce((a, b) => a + b, 0),
    sample: rounds.find((r) => r.sample)?.sample,
    disturbedRounds: rounds.filter((r) => r.disturbed).length,
    redisCommandsPerUnit: median(pick('redisCommandsPerUnit')),
    cpu: Object.fromEntries(
      ['server', 'redis', 'loadGenerator', 'other'].map((k) => [
        k,
        Math.round(median(rounds.map((r) => r.cpu[k])) * 100) / 100,
      ]),
    ),
    rssPeak: {
      total: Math.max(...rounds.map((r) => r.rssPeak.total)),
      largest: Math.max(...rounds.map((r) => r.rssPeak.largest)),
    },
  };
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const info = machine();
  log(`bench: ${quick ? 'quick run' : 'full run'} on ${info.cores} × ${info.cpu}, node ${info.node}`);

  if (!quick) await waitForQuiet();
  const hash = await hashPassword(PASSWORD);
  const argon2 = await argon2Rate(hash, quick ? 0.5 : 3);
  log(
    `bench: argon2id: ${argon2.perSecond} verifications/s with every core busy, ${argon2.cpuMs} ms of CPU each`,
  );

  const redis = await startRedis();
  redisPid = redis.pid;
  cleanups.push(() => redis.stop());
  redisClient = new Redis(redis.url);
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
  const minter = await startMinter(minterEnv);
  cleanups.push(() => minter.stop());
  settings.baseline.jwks = minter.jwks;
  writeFileSync(settingsFile, JSON.stringify(settings));

  const env = {
    settingsFile,
    gatehouse: { ...baseEnv, configFile, allowInsecure: ['http-issuer'] },
    gatehouseAcked: { ...baseEnv, configFile: ackedConfigFile, allowInsecure: ['http-issuer'] },
    gatehousePlain: {
      ...baseEnv,
      configFile: plainConfigFile,
      allowInsecure: ['http-issuer', 'plain-passwords'],
    },
  };
  const runs = [];
  const memory = [];
  let retries = options.retries;
  const failures = [];
  for (const workers of options.workers) {
    log(`\nbench: ${workers} worker${workers > 1 ? 's' : ''} per server`);
    const targets = await startTargets(workers, env);
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
        const rounds = new Map(eligible.map((t) => [t, []]));
        for (let round = 0; round < options.rounds; round += 1) {
          // Alternate the order of targets from one round and scenario to the next, so noise
          // hits all alike.
          const shift = (i + round + workers) % Math.max(eligible.length, 1);
          const ordered = [...eligible.slice(shift), ...eligible.slice(0, shift)];
          if ((i + round) % 2) ordered.reverse();
          for (const target of ordered) {
            if (!rounds.get(target)) continue; // failed in an earlier round
            try {
              const warmup = round === 0 ? options.warmupSeconds : Math.min(1, options.warmupSeconds);
              let result = await runRound(scenario, target, minter, warmup);
              // On a shared machine other processes may take CPU mid-measurement: repeat such a
              // round (a few times at most per run), keeping the least disturbed result.
              while (result.cpu.other > DISTURBED && retries > 0) {
                retries -= 1;
                log(
                  `  (${scenario.name} ${target.name}: ${result.cpu.other} cores used by other processes; waiting for a quiet machine, then again)`,
                );
                await waitForQuiet();
                const again = await runRound(scenario, target, minter, Math.min(1, options.warmupSeconds));
                if (again.cpu.other < result.cpu.other) result = again;
              }
              result.disturbed = result.cpu.other > DISTURBED;
              rounds.get(target).push(result);
            } catch (err) {
              failures.push({
                scenario: scenario.name,
                target: target.name,
                workers,
                error: err.stack ?? String(err),
              });
              log(`  ${scenario.name} ${target.name}: FAILED ${err.message}`);
              rounds.set(target, undefined);
            }
            if (!target.server.alive) throw new Error(`${target.name} died:\n${target.server.stderr}`);
          }
        }
        for (const target of eligible) {
          if (!rounds.get(target)?.length) continue;
          const run = combine(scenario, target, workers, rounds.get(target));
          runs.push(run);
          const flag =
            run.errors || run.exhausted ? `  ERRORS ${run.errors} ${JSON.stringify(run.sample ?? {})}` : '';
          const c = run.cpu;
          log(
            `  ${scenario.name.padEnd(26)} ${target.name.padEnd(16)} ${String(run.rate).padStart(8)} ${run.unit} [${run.rounds.map((r) => r.rate).join(' ')}]  p50 ${run.p50} p99 ${run.p99} ms  redis ${run.redisCommandsPerUnit}/unit  cpu ${c.server}/${c.redis}/${c.loadGenerator}/${c.other}${flag}`,
          );
        }
      }
      await sleep(quick ? 500 : 2000);
      for (const t of targets)
        memory.push({ target: t.name, workers, phase: 'after-load', ...rssOfServer(t.server.pid) });
    } finally {
      cleanups.splice(cleanups.indexOf(stopTargets), 1);
      await stopTargets();
    }
  }

  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    machine: info,
    argon2PerSecond: argon2.perSecond,
    argon2CpuMs: argon2.cpuMs,
    runs,
    memory,
    failures,
  };
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const name = quick ? 'quick.json' : `${stamp}${args.label ? `-${args.label}` : ''}.json`;
  writeFileSync(join(RESULTS, name), `${JSON.stringify(results, null, 2)}\n`);
  log(`\n${renderReport(results, scenarios)}`);
  log(`bench: results in bench/results/${name}`);
  const complete = !options.scenarios && !options.targets && !args.compare && !args['gatehouse-main'];
  if (!quick && complete && !args['no-write']) {
    writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    await updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), results, scenarios);
    log('bench: BENCHMARKS.md and bench/results/latest.json updated');
  }

  const bad = runs.filter((r) => r.errors > 0 || r.exhausted > 0 || r.rate === 0);
  const missing = scenarios.flatMap((s) =>
    options.workers.flatMap((w) =>
      s.targets
        .filter(wants)
        .filter((t) => !runs.some((r) => r.scenario === s.name && r.target === t && r.workers === w))
        .map((t) => `${s.name}/${t}/${w}w`),
    ),
  );
  if (bad.length || failures.length || missing.length) {
    for (const r of bad)
      log(`bench: ${r.scenario} ${r.target} ${r.workers}w: ${r.errors} errors, ${r.exhausted} exhausted`);
    if (missing.length) log(`bench: did not run: ${missing.join(', ')}`);
    return 1;
  }
  log('bench: every scenario ran without errors');
  return 0;
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
