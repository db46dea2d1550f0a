// Tables from a results object: per scenario, scaling, memory, sign-in cost, capacity planning
// (capacity.mjs) and the targets of issue 17 (goals.mjs), met or not. Used for the console and
// for BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  cpuPerUnit,
  find,
  fmtCpu,
  fmtMs,
  fmtRate,
  fmtRatio,
  gatehouseTarget,
  loginCost,
  mb,
  perCore,
  table,
  argon2PerCoreOf,
} from './figures.mjs';
import { evaluateTargets } from './goals.mjs';
import { renderCapacity } from './capacity.mjs';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';
function scenarioTable(results, scenario) {
  const rows = [];
  for (const workers of results.options.workers) {
    const baseline = find(results, scenario.name, 'baseline', workers);
    const peer = find(results, scenario.name, 'peer', workers);
    const floor = find(results, scenario.name, 'floor', workers);
    const names = [...scenario.targets];
    if (scenario.targets.includes('gatehouse')) names.splice(1, 0, 'gatehouse-compare');
    for (const target of names) {
      const run = find(results, scenario.name, target, workers);
      if (!run) continue;
      const isGatehouse = target.startsWith('gatehouse');
      rows.push([
        String(workers),
        isGatehouse ? `**${target}**` : target,
        `${fmtRate(run.rate)}${run.disturbedRounds ? ' †' : ''}`,
        fmtMs(run.p50),
        fmtMs(run.p99),
        String(run.errors),
        isGatehouse && baseline ? fmtRatio(run.rate / baseline.rate) : '',
        isGatehouse && peer ? fmtRatio(run.rate / peer.rate) : '',
        isGatehouse && floor ? fmtRatio(run.rate / floor.rate) : '',
        run.cpu ? fmtCpu(cpuPerUnit(run)) : '',
        target === 'peer' ? '' : String(run.redisCommandsPerUnit ?? ''),
        String(run.redisRoundTripsPerUnit ?? ''),
        run.cpu ? `${run.cpu.server} / ${run.cpu.loadGenerator} / ${run.cpu.other}` : '',
      ]);
    }
  }
  const unit = scenario.unit ?? 'req/s';
  const latency = scenario.unit ? ' (round trip)' : '';
  return table(
    [
      'Workers',
      'Target',
      unit,
      `p50 ms${latency}`,
      `p99 ms${latency}`,
      'Errors',
      '× baseline',
      '× peer',
      '× floor',
      `Server CPU ${scenario.unit ? 'ms/login' : 'µs/req'}`,
      `Redis cmds/${scenario.unit ? 'login' : 'req'}`,
      `Redis round trips/${scenario.unit ? 'login' : 'req'}`,
      'Cores: server / load gen. / other',
    ],
    rows,
  );
}

/** Per scenario measured with acknowledged consumes: its rate beside plain Gatehouse's. */
function ackCostRows(results, scenarios) {
  return results.options.workers.flatMap((workers) =>
    scenarios
      .filter((s) => s.targets.includes('gatehouse-acked'))
      .map((s) => [
        find(results, s.name, 'gatehouse', workers),
        find(results, s.name, 'gatehouse-acked', workers),
        s,
      ])
      .filter(([plain, acked]) => plain && acked)
      .map(([plain, acked, s]) => [
        String(workers),
        s.name,
        fmtRate(plain.rate),
        fmtRate(acked.rate),
        fmtRatio(acked.rate / plain.rate),
        fmtMs(plain.p50),
        fmtMs(acked.p50),
      ]),
  );
}

export function renderReport(results, scenarios) {
  const m = results.machine;
  const o = results.options;
  const parts = [];
  parts.push(
    `Run ${results.startedAt} (${o.quick ? 'quick' : 'full'}), commit ${m.commit}${m.dirty ? ' + uncommitted changes in src/' : ''}.`,
  );
  parts.push(
    [
      `- Machine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}`,
      `- Node ${m.node}, Redis ${m.redis}, oidc-provider ${m.oidcProvider}, oauth2-mock-server ${m.oauth2MockServer}, autocannon ${m.autocannon}`,
      `- Per target and scenario: ${o.warmupSeconds} s warm-up, then ${o.durationSeconds} s measured, ${o.connections} keep-alive connections`,
      `- autocannon runs in the bench's own process on the same ${m.cores} cores as the servers and Redis: the load generator competes with them for CPU`,
    ].join('\n'),
  );
  parts.push(
    [
      'Rates are the median of the rounds. × baseline and × peer: Gatehouse’s rate over theirs in the same scenario and',
      'number of workers. Server CPU: cores the server used over its rate (its cost per unit of work, whatever the',
      'load generator could offer). Redis cmds: commands Redis ran per unit (INFO commandstats; a Lua script counts',
      'with the commands it runs). Redis round trips: requests the server sent to Redis per unit, counted on the wire by a',
      'proxy in front of each target: a command, a MULTI … EXEC or a Lua script counts one; commands sent side by side',
      'without MULTI count one each (bench/lib/redis-round-trips.mjs). Cores: CPU used during the measurement by the server, the load generator and other',
      'processes on the machine. † = other processes still took more than a quarter of a core in some round.',
      '× floor: Gatehouse’s rate over a bare node:http server answering the same bytes and headers (bench/floor.mjs).',
    ].join('\n'),
  );
  for (const scenario of scenarios) {
    if (!results.runs.some((r) => r.scenario === scenario.name)) continue;
    parts.push(`#### ${scenario.title}\n\n${scenarioTable(results, scenario)}`);
  }
  const acked = ackCostRows(results, scenarios);
  if (acked.length) {
    parts.push(
      `#### Consumes acknowledged by a replica\n\n\`gatehouse-acked\` is \`gatehouse\` with \`redis.consumeAckReplicas: 1\` and a replica of the bench's Redis on the same loopback: each consume waits for that replica's acknowledgement (\`WAIT\`) before tokens are issued, the default on Sentinel and Cluster (README "Redis"). × gatehouse: its rate over the single-server figure in the same run.\n\n${table(
        ['Workers', 'Scenario', 'gatehouse', 'gatehouse-acked', '× gatehouse', 'p50 ms', 'p50 ms acked'],
        acked,
      )}`,
    );
  }
  if (o.workers.includes(1) && o.workers.includes(2)) {
    const rows = scenarios
      .map((s) => {
        const gh = gatehouseTarget(s);
        const [g1, g2] = [find(results, s.name, gh, 1), find(results, s.name, gh, 2)];
        const [b1, b2] = [find(results, s.name, 'baseline', 1), find(results, s.name, 'baseline', 2)];
        if (!g1 || !g2) return undefined;
        return [
          s.name,
          fmtRate(g1.rate),
          fmtRate(g2.rate),
          fmtRatio(g2.rate / g1.rate),
          b1 && b2 ? fmtRatio(b2.rate / b1.rate) : '',
        ];
      })
      .filter(Boolean);
    parts.push(
      `#### Two workers vs one\n\n${table(['Scenario', 'Gatehouse 1 worker', 'Gatehouse 2 workers', '× (Gatehouse)', '× (baseline)'], rows)}`,
    );
  }
  const memRows = [];
  for (const workers of o.workers) {
    for (const target of [...new Set(results.memory.map((x) => x.target))]) {
      const at = (phase) =>
        results.memory.find((x) => x.target === target && x.workers === workers && x.phase === phase);
      const idle = at('idle');
      const after = at('after-load');
      const peaks = results.runs
        .filter((r) => r.target === target && r.workers === workers)
        .map((r) => r.rssPeak);
      if (!idle) continue;
      memRows.push([
        target,
        String(workers),
        `${mb(idle.largest)} / ${mb(idle.total)}`,
        peaks.length
          ? `${mb(Math.max(...peaks.map((p) => p.largest)))} / ${mb(Math.max(...peaks.map((p) => p.total)))}`
          : '',
        after ? `${mb(after.largest)} / ${mb(after.total)}` : '',
      ]);
    }
  }
  parts.push(
    `#### Memory (RSS: largest process / all processes of the server)\n\n${table(['Target', 'Workers', 'Idle after start', 'Peak under load', 'Idle after the load'], memRows)}`,
  );
  const argonRows = o.workers
    .map((w) => {
      const a = find(results, 'login-argon2id', 'gatehouse', w);
      const p = find(results, 'login-plain', 'gatehouse-plain', w);
      const ba = find(results, 'login-argon2id', 'baseline', w);
      const bp = find(results, 'login-plain', 'baseline', w);
      if (!a && !p) return undefined;
      const cost = loginCost(results, w);
      const rate = (r) => (r ? `${fmtRate(r.rate)} (${fmtCpu(cpuPerUnit(r))} ms)` : '');
      return [
        String(w),
        rate(a),
        a?.cpu ? fmtRate(perCore(a)) : '',
        rate(p),
        cost ? `${Math.round(cost.hashShare * 100)}%` : '',
        rate(ba),
        rate(bp),
      ];
    })
    .filter(Boolean);
  if (argonRows.length) {
    parts.push(
      `#### Sign-in: the password hash vs the rest\n\n${results.argon2Parameters ?? 'argon2id m=19456,t=2,p=1'} (the production parameters, \`hashPassword\`) on this machine, measured alone before the servers start: **${argon2PerCoreOf(results) ?? '?'}** verifications/s per core (${results.argon2CpuMs ?? '?'} ms of CPU each), ${fmtRate(results.argon2PerSecond)}/s with every core busy. Logins/s, with the server's CPU per login in parentheses; per core: logins/s over the cores the server used; the hash's share is the CPU a login with argon2id costs more than one with a plain-text password.\n\n${table(
        [
          'Workers',
          'Gatehouse, argon2id',
          'Gatehouse argon2id logins/s per core',
          'Gatehouse, plain text',
          'Hash share of CPU',
          'Baseline, argon2id',
          'Baseline, plain text',
        ],
        argonRows,
      )}`,
    );
  }
  const capacity = renderCapacity(results, scenarios);
  if (capacity) parts.push(capacity);
  const targets = evaluateTargets(results, scenarios);
  parts.push(
    `#### Targets\n\nIssue 17's targets 1–6 (and two of issue 8), read from this run.\n\n${table(
      ['#', 'Target', 'Measured', 'Met'],
      targets.map((t) => [
        String(t.id),
        t.target,
        t.measured,
        t.met === undefined ? 'not measured here' : t.met ? 'yes' : '**no**',
      ]),
    )}`,
  );
  if (results.failures.length) {
    parts.push(
      `#### Failures\n\n${results.failures.map((f) => `- ${f.scenario} ${f.target} ${f.workers}w: ${f.error.split('\n')[0]}`).join('\n')}`,
    );
  }
  return parts.join('\n\n');
}

/** Replaces the generated part of BENCHMARKS.md (between the markers), keeping the rest. */
export async function updateBenchmarksMd(file, results, scenarios) {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`${file} lacks the ${START} … ${END} markers`);
  const body = `${START}\n<!-- Generated by \`npm run bench\` from bench/results/latest.json; edits here are overwritten. -->\n\n${renderReport(results, scenarios)}\n\n`;
  // Formatted as `npm run lint` expects, so a bench run never turns the lint red.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  const formatted = await prettier.format(text.slice(0, start) + body + text.slice(end), {
    ...options,
    filepath: file,
  });
  writeFileSync(file, formatted);
}
