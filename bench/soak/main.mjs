// The soak's command line: `npm run bench -- --soak [--soak-minutes 10] [--load 0.7] [--sample 500]
// [--label NAME] [--no-write]`, or, after `npm run build`, `node bench/soak/main.mjs` with the same
// options (`--minutes` for `--soak-minutes`). See BENCHMARKS.md "Soak".
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runSoak } from './run.mjs';

/** Parses `argv`, runs the soak, and resolves with the exit code (1 when a check is not met). */
export async function soakMain(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      soak: { type: 'boolean', default: true },
      'soak-minutes': { type: 'string' },
      minutes: { type: 'string' },
      load: { type: 'string', default: '0.7' },
      sample: { type: 'string', default: '500' },
      label: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  try {
    return await runSoak({
      minutes: Number(values['soak-minutes'] ?? values.minutes ?? 10),
      load: Number(values.load),
      sampleSize: Number(values.sample),
      label: values.label,
      write: !values['no-write'],
    });
  } catch (err) {
    process.stdout.write(`soak: ${err.stack ?? err}\n`);
    return 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(await soakMain(process.argv.slice(2)));
