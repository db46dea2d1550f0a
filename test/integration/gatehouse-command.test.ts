import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const BIN = fileURLToPath(new URL('../../dist/bin/gatehouse.js', import.meta.url));

describe('the gatehouse command', () => {
  it('starts in test mode on a free port, prints the issuer when ready, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, '--test', '--port', '0'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
    const issuer = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr.join('')}`)));
    });
    expect(issuer).toMatch(/^http:\/\/localhost:\d+$/);
    const index = await fetch(`${issuer}/_test`).then((r) => r.json());
    expect(index).toEqual({ issuer, mode: 'test', store: 'memory' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr.join('')).not.toMatch(/Unsupported runtime/);
  });

  it('refuses --test in production with a clear message', async () => {
    const child = spawn(process.execPath, [BIN, '--test', '--port', '0'], {
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(
      'GATEHOUSE_MODE: test mode (any user signs in) is refused when NODE_ENV=production',
    );
  });
});
