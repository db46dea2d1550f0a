// node bench/soak/main.mjs [--minutes 10] [--load 0.7] [--sample 500] [--label NAME] [--no-write]
// (after npm run build); npm run bench -- --soak [--soak-minutes N] runs the same.
import { parseArgs } from 'node:util';
import { runSoak } from './run.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    load: { type: 'string', default: '0.7' },
    sample: { type: 'string', default: '500' },
    label: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
let code = 1;
try {
  code = await runSoak({
    minutes: Number(values.minutes),
    load: Number(values.load),
    sampleSize: Number(values.sample),
    label: values.label,
    write: !values['no-write'],
  });
} catch (err) {
  process.stdout.write(`soak: ${err.stack ?? err}\n`);
}
process.exit(code);
