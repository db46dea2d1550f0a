// The end of a run: the results file, the report on stdout, BENCHMARKS.md for complete full runs,
// and the verdict (did every scenario run without errors?).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport, updateBenchmarksMd } from './report.mjs';

/**
 * Writes bench/results/<start>.json (quick.json for --quick), prints the report and, for a full
 * run of every scenario and target, latest.json and BENCHMARKS.md's generated section.
 */
export async function writeResults({ root, resultsDir, args, options, scenarios, log }, results) {
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const name = options.quick ? 'quick.json' : `${stamp}${args.label ? `-${args.label}` : ''}.json`;
  writeFileSync(join(resultsDir, name), `${JSON.stringify(results, null, 2)}\n`);
  log(`\n${renderReport(results, scenarios)}`);
  log(`bench: results in bench/results/${name}`);
  const complete = !options.scenarios && !options.targets && !args.compare && !args['gatehouse-main'];
  if (!options.quick && complete && !args['no-write']) {
    writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    await updateBenchmarksMd(join(root, 'BENCHMARKS.md'), results, scenarios);
    log('bench: BENCHMARKS.md and bench/results/latest.json updated');
  }
}

/**
 * The run's exit code: 1 when a scenario failed, got unexpected answers, ran out of minted
 * supplies or did not run at all; never because of its speed.
 */
export function verdict({ options, scenarios, wants, log }, { runs, failures }) {
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
