import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/redis-server.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the in-flight request, and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('Gatehouse is running') && resolve());
      child.once('exit', (code) => reject(new Error(`exited early: ${code}`)));
    });
    const body = 'grant_type=client_credentials&client_id=gatehouse-demo&client_secret=wrong';
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d: Buffer) => (response += d.toString()));
    // Headers and half the body: the request is in flight when the signal arrives.
    socket.write(
      `POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // New connections are refused while the old one finishes.
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    socket.write(body.slice(20));
    expect(await exited).toBe(0);
    expect(response).toMatch(/^HTTP\/1\.1 401 Unauthorized/);
    expect(response).toContain('"error":"invalid_client"');
  });
});
