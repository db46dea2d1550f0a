// Prints a before/after table (Markdown) from a results file of a run with `--compare`: the other
// build ran as "gatehouse-compare" (before), this checkout as "gatehouse" (after), both beside the
// baseline in the same run.
//   npm run build && node bench/run.mjs --compare /path/to/before/dist/main.js --workers 1 --label before-after
//   node bench/before-after.mjs bench/results/<file>-before-after.json
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/before-after.mjs <results.json of a --compare run>\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8'));
const find = (scenario, target, workers) =>
  results.runs.find((r) => r.scenario === scenario && r.target === target && r.workers === workers);
const rate = (n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
const cpu = (run) => {
  if (!run?.cpu || !run.rate) return '';
  const perUnit = (run.cpu.server / run.rate) * (run.unit === 'req/s' ? 1e6 : 1e3);
  return String(Math.round(perUnit));
};

const rows = [];
for (const workers of results.options.workers) {
  for (const scenario of [...new Set(results.runs.map((r) => r.scenario))]) {
    const before = find(scenario, 'gatehouse-compare', workers);
    const after = find(scenario, 'gatehouse', workers);
    const baseline = find(scenario, 'baseline', workers);
    if (!before || !after) continue;
    rows.push([
      scenario,
      String(workers),
      `${rate(before.rate)} → ${rate(after.rate)} ${after.unit}`,
      ratio(after.rate, before.rate),
      baseline ? `${ratio(before.rate, baseline.rate)} → ${ratio(after.rate, baseline.rate)}` : '',
      `${cpu(before)} → ${cpu(after)}`,
      `${before.redisCommandsPerUnit} → ${after.redisCommandsPerUnit}`,
    ]);
  }
}
const header = [
  'Scenario',
  'Workers',
  'Before → after',
  'After / before',
  '× baseline, before → after',
  'Server CPU µs/req (ms/login)',
  'Redis cmds/unit',
];
const lines = [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
