// Summarizes V8 CPU profiles (node --cpu-prof; `npm run bench -- --profile` writes them under
// bench/results/profiles/): self time by module (package or source file) and by function, and
// inclusive time for the functions named with --focus.
//   node bench/profile-summary.mjs <file.cpuprofile | directory> [--top 30] [--focus name,name]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, focus: { type: 'string' } },
});
const top = Number(values.top);
const files = positionals.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(p, f))
    : [p],
);
if (files.length === 0) {
  process.stderr.write(
    'usage: node bench/profile-summary.mjs <file.cpuprofile | directory> [--top N] [--focus fn,fn]\n',
  );
  process.exit(2);
}

/** `node_modules/<package>` or the project-relative file of a call frame. */
function moduleOf(url) {
  if (!url) return '(native/v8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node:*';
  const dist = url.indexOf('/dist/');
  return dist !== -1 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTicks = new Map();
  for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const byModule = new Map();
  const byFunction = new Map();
  let idle = 0;
  for (const [id, ticks] of selfTicks) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === '(idle)') {
      idle += ticks;
      continue;
    }
    const mod = moduleOf(callFrame.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ticks);
    const fn = `${callFrame.functionName || '(anonymous)'} ${mod}:${callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ticks);
  }
  const busy = total - idle;
  const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const list = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `  ${pct(t)}  ${k}`)
      .join('\n');
  process.stdout.write(
    `\n${file}\n  busy ${busy} of ${total} samples (${((100 * busy) / total).toFixed(0)}%); shares below are of busy time\n`,
  );
  process.stdout.write(
    `\nself time by module:\n${list(byModule)}\n\nself time by function:\n${list(byFunction)}\n`,
  );
  if (values.focus) {
    // Inclusive time: samples whose stack contains a frame with the function's name.
    for (const name of values.focus.split(',')) {
      let ticks = 0;
      for (const [id, t] of selfTicks) {
        for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
          if (byId.get(cur).callFrame.functionName === name) {
            ticks += t;
            break;
          }
        }
      }
      process.stdout.write(`\ninclusive ${name}: ${pct(ticks)}\n`);
    }
  }
}
