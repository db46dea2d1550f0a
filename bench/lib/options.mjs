// Command-line options of `npm run bench` (see BENCHMARKS.md, "How to reproduce") and what they
// select: the scenarios to run and the targets wanted.
import { parseArgs } from 'node:util';
import { SCENARIOS } from './scenarios.mjs';

/**
 * Parses the bench's arguments. Returns the raw `args`, the resolved `options` (defaults depend on
 * --quick), the selected `scenarios` and `wants(targetName)`.
 */
export function parseOptions(argv = process.argv.slice(2)) {
  const { values: args } = parseArgs({
    args: argv,
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
  return { args, options, scenarios, wants };
}
