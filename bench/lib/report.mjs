// Tables from a results object: per scenario, scaling, memory, sign-in cost, and the targets of
// issue 8 as ratios (met or not). Used for the console and for BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';
const MB = 2 ** 20;

const fmtRate = (n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const fmtMs = (n) => (n === undefined ? '' : n >= 10 ? String(Math.round(n)) : n.toFixed(1));
const fmtRatio = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '—');
const mb = (bytes) => `${Math.round(bytes / MB)} MB`;
/** CPU the server spent per unit of work: µs per request, ms per login. */
const cpuPerUnit = (run) =>
  run.rate ? (run.cpu.server / run.rate) * (run.unit === 'req/s' ? 1e6 : 1e3) : NaN;
const fmtCpu = (n) => (Number.isFinite(n) ? (n >= 100 ? String(Math.round(n)) : n.toFixed(1)) : '');

const find = (results, scenario, target, workers) =>
  results.runs.find((r) => r.scenario === scenario && r.target === target && r.workers === workers);

/** Gatehouse's run for a scenario: the plain-password instance for the plain-password login. */
const gatehouseTarget = (scenario) =>
  scenario.targets.includes('gatehouse') ? 'gatehouse' : 'gatehouse-plain';

function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function scenarioTable(results, scenario) {
  const rows = [];
  for (const workers of results.options.workers) {
    const baseline = find(results, scenario.name, 'baseline', workers);
    const peer = find(results, scenario.name, 'peer', workers);
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
      `Server CPU ${scenario.unit ? 'ms/login' : 'µs/req'}`,
      `Redis cmds/${scenario.unit ? 'login' : 'req'}`,
      `Redis round trips/${scenario.unit ? 'login' : 'req'}`,
      'Cores: server / load gen. / other',
    ],
    rows,
  );
}

/** Server CPU per login with argon2id and with plain text; the difference is the hash. */
function loginCost(results, workers) {
  const argon = find(results, 'login-argon2id', 'gatehouse', workers);
  const plain = find(results, 'login-plain', 'gatehouse-plain', workers);
  if (!argon?.cpu || !plain?.cpu || !argon.rate || !plain.rate) return undefined;
  const argonMs = cpuPerUnit(argon);
  const plainMs = cpuPerUnit(plain);
  return {
    argonRate: argon.rate,
    plainRate: plain.rate,
    argonMs,
    plainMs,
    hashShare: Math.max(0, (argonMs - plainMs) / argonMs),
  };
}

/** The targets of issue 8, each with what was measured and whether it is met. */
export function evaluateTargets(results, scenarios) {
  const out = [];
  const ratio = (name, workers) => {
    const s = scenarios.find((x) => x.name === name);
    const gh = s && find(results, name, gatehouseTarget(s), workers);
    const base = find(results, name, 'baseline', workers);
    return gh && base ? gh.rate / base.rate : undefined;
  };
  for (const goal of [3, 1]) {
    const names = scenarios.filter((s) => s.goal === goal).map((s) => s.name);
    const measured = names.flatMap((name) =>
      results.options.workers.map((w) => ({ name, w, r: ratio(name, w) })).filter((x) => x.r !== undefined),
    );
    if (!measured.length) continue;
    const short = measured.filter((x) => x.r < goal);
    out.push({
      target: `≥ ${goal}× bare oidc-provider: ${names.join(', ')}`,
      measured: short.length
        ? `below: ${short.map((x) => `${x.name} ${x.w}w ${fmtRatio(x.r)}`).join('; ')}`
        : `lowest ${fmtRatio(Math.min(...measured.map((x) => x.r)))}`,
      met: short.length === 0,
    });
  }
  if (results.options.workers.includes(1) && results.options.workers.includes(2)) {
    const scaling = scenarios
      .map((s) => {
        const one = find(results, s.name, gatehouseTarget(s), 1);
        const two = find(results, s.name, gatehouseTarget(s), 2);
        return one && two ? { name: s.name, x: two.rate / one.rate } : undefined;
      })
      .filter(Boolean);
    const short = scaling.filter((x) => x.x < 1.8);
    out.push({
      target: 'two workers ≥ 1.8× one',
      measured: short.length
        ? `${scaling.length - short.length} of ${scaling.length} scenarios; below: ${short.map((x) => `${x.name} ${fmtRatio(x.x)}`).join('; ')}`
        : `every scenario; lowest ${fmtRatio(Math.min(...scaling.map((x) => x.x)))}`,
      met: short.length === 0,
    });
  }
  const idle = results.memory.filter((m) => m.target === 'gatehouse' && m.phase === 'idle');
  if (idle.length) {
    const largest = Math.max(...idle.map((m) => m.largest));
    out.push({
      target: 'idle RSS < 150 MB (each Gatehouse process)',
      measured: idle.map((m) => `${m.workers}w: ${mb(m.largest)}`).join('; '),
      met: largest < 150 * MB,
    });
  }
  const login = loginCost(results, 1);
  if (login) {
    out.push({
      target: 'full login limited by the password hash, not by our code (WORKERS=1)',
      measured: `${fmtRate(login.argonRate)} logins/s with argon2id, ${fmtRate(login.plainRate)} with plain text; server CPU per login ${login.argonMs.toFixed(1)} ms vs ${login.plainMs.toFixed(1)} ms (one argon2id verification alone: ${results.argon2CpuMs ?? '?'} ms): the hash is ${Math.round(login.hashShare * 100)}% of a login's CPU`,
      met: login.hashShare >= 0.5,
    });
  }
  return out;
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
        rate(p),
        cost ? `${Math.round(cost.hashShare * 100)}%` : '',
        rate(ba),
        rate(bp),
      ];
    })
    .filter(Boolean);
  if (argonRows.length) {
    parts.push(
      `#### Sign-in: the password hash vs the rest\n\nargon2id (m=19 MiB, t=2, p=1) on this machine, measured alone before the servers start: **${fmtRate(results.argon2PerSecond)}** verifications/s with every core busy, ${results.argon2CpuMs ?? '?'} ms of CPU each. Logins/s, with the server's CPU per login in parentheses; the hash's share is the CPU a login with argon2id costs more than one with a plain-text password.\n\n${table(
        [
          'Workers',
          'Gatehouse, argon2id',
          'Gatehouse, plain text',
          'Hash share of CPU',
          'Baseline, argon2id',
          'Baseline, plain text',
        ],
        argonRows,
      )}`,
    );
  }
  const targets = evaluateTargets(results, scenarios);
  parts.push(
    `#### Targets\n\n${table(
      ['Target', 'Measured', 'Met'],
      targets.map((t) => [t.target, t.measured, t.met ? 'yes' : '**no**']),
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
