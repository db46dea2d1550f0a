import { execFileSync } from 'node:child_process';

/** The first Python on this machine that can import botocore (.ci/run installs one if none can). */
export function findBotocorePython(): string {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(candidate, ['-c', 'import botocore'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next interpreter
    }
  }
  throw new Error('no python3 with botocore: install python3-botocore (bash .ci/run does)');
}
