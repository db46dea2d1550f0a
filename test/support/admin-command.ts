import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built admin command (`npm run build` first, as for every test that runs dist/). */
export const ADMIN = fileURLToPath(new URL('../../dist/bin/admin.js', import.meta.url));

/**
 * Runs `gatehouse-admin <args>` against the store at `redisUrl`, with `input` on its stdin, and
 * resolves with its exit code and output (never rejects: a failing command is a result to check).
 */
export function runAdmin(
  redisUrl: string,
  args: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [ADMIN, ...args],
      { env: { ...process.env, REDIS_URL: redisUrl, NODE_ENV: 'test' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}
