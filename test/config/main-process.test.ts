import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempConfigDir } from './support.js';

/** dist/ is built by the suite's global setup (test/support/global-setup.mjs), as `npm run build` would. */
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/**
 * Runs `node dist/main.js` with exactly `env` (plus PATH) and returns how it ended. A process
 * that starts listening instead of exiting is killed and reported as such.
 */
function runMain(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dist/main.js did not exit; stdout: ${stdout} stderr: ${stderr}`));
    }, 15000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the process entry (node dist/main.js)', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());

  it('is built', () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it('exits non-zero on a bad CONFIG_FILE, naming the key on stderr', async () => {
    const path = files.write({
      ttl: { accessToken: 'an hour' },
      clients: [{ client_id: 'x', redirect_uris: ['nope'] }],
    });
    const { code, stdout, stderr } = await runMain({ CONFIG_FILE: path });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'gatehouse: configuration error\n' +
        'invalid config:\n' +
        '  clients.0.redirect_uris.0: Invalid URL\n' +
        '  ttl.accessToken: Invalid input: expected number, received string\n',
    );
    expect(stdout).toBe('');
  });

  it('exits non-zero on a CONFIG_FILE that is not JSON or not there', async () => {
    const broken = files.write('{ "ttl": ', 'broken.json');
    for (const path of [broken, `${files.dir}/missing.json`]) {
      const { code, stderr } = await runMain({ CONFIG_FILE: path });
      expect(code).toBe(1);
      expect(stderr).toMatch(
        new RegExp(`^gatehouse: configuration error\\nCONFIG_FILE: .*${path.split('/').pop()}`),
      );
      expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
  });

  it('refuses to start in production with the defaults, listing every reason', async () => {
    const { code, stdout, stderr } = await runMain({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('gatehouse: configuration error');
    expect(lines.slice(1).map((line) => line.split(':')[0])).toEqual([
      'REDIS_URL',
      'users.0.password',
      'users.0.username',
      'clients.0.client_id',
      'ISSUER',
      'METRICS_TOKEN',
      'cookies.keys',
    ]);
    for (const optIn of [
      'memory-store',
      'plain-passwords',
      'demo-accounts',
      'http-issuer',
      'open-metrics',
      'default-cookie-keys',
    ]) {
      expect(stderr).toContain(`GATEHOUSE_ALLOW_INSECURE=${optIn}`);
    }
  });

  it('refuses generated signing keys on the memory store in production, naming jwks', async () => {
    const { code, stderr } = await runMain({
      NODE_ENV: 'production',
      GATEHOUSE_ALLOW_INSECURE:
        'memory-store,plain-passwords,demo-accounts,http-issuer,open-metrics,default-cookie-keys',
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'gatehouse: configuration error\n' +
        'jwks: NODE_ENV=production refuses signing keys generated into the in-memory store (configure "jwks", use REDIS_URL, or GATEHOUSE_ALLOW_INSECURE=dev-keys)\n',
    );
  });
});
