// Builds dist/ once before the suite, so the tests that run the real commands
// (dist/main.js, dist/bin/gatehouse.js) exercise the current sources.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = function globalSetup() {
  execFileSync(
    process.execPath,
    [join(__dirname, '../../node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: join(__dirname, '../..'),
      stdio: 'inherit',
    },
  );
};
