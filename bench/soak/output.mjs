// Where the soak's results go: bench/results/soak-<time>.json and .svg, and, for a run of the
// full length, soak-latest.svg and the "Soak" section of BENCHMARKS.md (between its markers).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSoakSvg } from './plot.mjs';

export const FULL_MINUTES = 10;
const START = '<!-- bench:soak:start -->';
const END = '<!-- bench:soak:end -->';

function renderSection(results, name) {
  const m = results.machine;
  const t = results.totals;
  const c = results.cpu;
  const servers = Object.entries(c)
    .filter(([k]) => k.startsWith('gatehouse'))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const rows = results.checks.map((x) => `| ${x.name} | ${x.measured} | ${x.met ? 'met' : '**not met**'} |`);
  return [
    START,
    '',
    `Latest soak: ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${results.options.minutes} minutes, commit \`${m.commit}\`${m.dirty ? ' (with uncommitted changes in src/)' : ''}, ${m.cores} × ${m.cpu}, Node ${m.node}, Redis ${m.redis.split(' ')[0]}.`,
    `Capacity measured with the mix: **${results.capacity} req/s**; offered **${results.targetRate} req/s** (${Math.round((results.targetRate / results.capacity) * 100)} %);`,
    `answered ${t.requests} requests (${t.achievedRate} req/s), p50 ${t.p50} ms, p99 ${t.p99} ms; ${t.shed} shed by the load generator.`,
    `Average cores used: ${servers}, Redis ${c.redis}, load generator and minting ${c.loadGenerator}, other processes ${c.other}` +
      ` (more than half a core in ${results.machineNoise.percent} % of the 5-second samples${results.machineNoise.percent > 10 ? ': a disturbed run, read its latencies and any 503 outside the outage with that in mind' : ''}).`,
    '',
    `![Soak: answers per second, p50/p99 latency and errors per 5-second bucket](bench/results/soak-latest.svg)`,
    '',
    '| Check | Measured | |',
    '| --- | --- | --- |',
    ...rows,
    '',
    `Every figure, per 5-second bucket, with memory, key count and CPU samples: \`bench/results/${name}.json\`.`,
    '',
    END,
  ].join('\n');
}

export function writeOutputs(root, results, options, log) {
  const dir = join(root, 'bench', 'results');
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const name = `soak-${stamp}${options.label ? `-${options.label}` : ''}`;
  const svg = renderSoakSvg(results);
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `${name}.svg`), svg);
  const noise = results.machineNoise;
  if (noise.percent > 10)
    log(
      `soak: other processes used more than half a core in ${noise.percent} % of the samples (average ${results.cpu.other} cores): a disturbed run`,
    );
  for (const x of results.checks) log(`soak: ${x.met ? 'met    ' : 'NOT MET'} ${x.name}: ${x.measured}`);
  log(`soak: results in bench/results/${name}.json and .svg`);
  if (!options.write || options.minutes < FULL_MINUTES) return;
  writeFileSync(join(dir, 'soak-latest.svg'), svg);
  const file = join(root, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < 0) throw new Error(`BENCHMARKS.md has no ${START} … ${END} section`);
  writeFileSync(file, text.slice(0, from) + renderSection(results, name) + text.slice(to + END.length));
  log('soak: BENCHMARKS.md "Soak" and bench/results/soak-latest.svg updated');
}
