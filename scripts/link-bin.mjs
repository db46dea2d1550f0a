// Links this package's own `gatehouse` command into node_modules/.bin, so that
// `npx gatehouse` works in a checkout after `npm ci` (npx looks there before the registry).
// npm does this itself for installed packages; a package's own bins are never linked.
import { existsSync, mkdirSync, rmSync, symlinkSync, chmodSync } from 'node:fs';

const target = '../../dist/bin/gatehouse.js';
const link = 'node_modules/.bin/gatehouse';
if (existsSync('node_modules') && existsSync('dist/bin/gatehouse.js')) {
  mkdirSync('node_modules/.bin', { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(target, link);
  chmodSync('dist/bin/gatehouse.js', 0o755);
}
