// Measurement: rounds of a scenario against each eligible target, in an order that alternates so
// that noise hits all alike, each round repeated when other processes disturbed it.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, machineBusySeconds, processTree, redisCommands, rssOfServer } from './processes.mjs';
import { Supply } from './scenarios.mjs';
import { runLoad } from './load.mjs';
import { combine } from './combine.mjs';

/** Cores used by other processes above which a measurement counts as disturbed. */
export const DISTURBED = 0.25;

/**
 * Waits until the machine has been nearly idle for 3 seconds in a row (between measurements the
 * servers idle, so what is busy then is someone else); a run may wait 30 minutes in all.
 */
export function createQuietWait() {
  /** How long a run may wait for other processes to leave the machine alone, in all. */
  let quietBudgetMs = 30 * 60_000;
  return async function waitForQuiet() {
    const started = Date.now();
    let quiet = 0;
    while (quiet < 3 && Date.now() - started < quietBudgetMs) {
      const before = machineBusySeconds();
      await sleep(1000);
      quiet = machineBusySeconds() - before < 0.15 ? quiet + 1 : 0;
    }
    quietBudgetMs = Math.max(0, quietBudgetMs - (Date.now() - started));
  };
}

/**
 * The bench's measuring state for one run: how many disturbed rounds it may still repeat.
 * `deps`: options, redisPid, redisClient, minter, log, waitForQuiet (from createQuietWait).
 */
export function createMeasurer({ options, redisPid, redisClient, minter, log, waitForQuiet }) {
  let retries = options.retries;

  /**
   * One round of a scenario against one target: mint what it needs, warm up, mint again for the
   * measured time (from the warm-up's rate), measure. Also measures the CPU each party used (in
   * cores), the commands Redis ran per unit of work, and the server's peak RSS.
   */
  async function runRound(scenario, target, warmupSeconds) {
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
    const tripsBefore = target.roundTrips?.read().roundTrips;
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
    const trips = target.roundTrips ? target.roundTrips.read().roundTrips - tripsBefore : undefined;
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
      ...(trips === undefined
        ? {}
        : { redisRoundTripsPerUnit: result.units ? Math.round((trips / result.units) * 10) / 10 : 0 }),
      exhausted: supply?.exhausted ?? 0,
      warmupRate,
      cpu,
      rssPeak: peak,
    };
  }

  /**
   * All rounds of one scenario (the `index`-th of the run) against the eligible targets. Returns
   * the combined runs (one per target that ran) and the failures; a dead server throws.
   */
  async function runScenario(scenario, index, eligible, workers) {
    const failures = [];
    const rounds = new Map(eligible.map((t) => [t, []]));
    for (let round = 0; round < options.rounds; round += 1) {
      // Alternate the order of targets from one round and scenario to the next, so noise
      // hits all alike.
      const shift = (index + round + workers) % Math.max(eligible.length, 1);
      const ordered = [...eligible.slice(shift), ...eligible.slice(0, shift)];
      if ((index + round) % 2) ordered.reverse();
      for (const target of ordered) {
        if (!rounds.get(target)) continue; // failed in an earlier round
        try {
          const warmup = round === 0 ? options.warmupSeconds : Math.min(1, options.warmupSeconds);
          let result = await runRound(scenario, target, warmup);
          // On a shared machine other processes may take CPU mid-measurement: repeat such a
          // round (a few times at most per run), keeping the least disturbed result.
          while (result.cpu.other > DISTURBED && retries > 0) {
            retries -= 1;
            log(
              `  (${scenario.name} ${target.name}: ${result.cpu.other} cores used by other processes; waiting for a quiet machine, then again)`,
            );
            await waitForQuiet();
            const again = await runRound(scenario, target, Math.min(1, options.warmupSeconds));
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
    const runs = [];
    for (const target of eligible) {
      if (!rounds.get(target)?.length) continue;
      const run = combine(scenario, target, workers, rounds.get(target));
      runs.push(run);
      const flag =
        run.errors || run.exhausted ? `  ERRORS ${run.errors} ${JSON.stringify(run.sample ?? {})}` : '';
      const c = run.cpu;
      log(
        `  ${scenario.name.padEnd(26)} ${target.name.padEnd(16)} ${String(run.rate).padStart(8)} ${run.unit} [${run.rounds.map((r) => r.rate).join(' ')}]  p50 ${run.p50} p99 ${run.p99} ms  redis ${run.redisCommandsPerUnit}/unit ${run.redisRoundTripsPerUnit ?? '-'} trips  cpu ${c.server}/${c.redis}/${c.loadGenerator}/${c.other}${flag}`,
      );
    }
    return { runs, failures };
  }

  return { runScenario };
}
