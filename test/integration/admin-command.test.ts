import { runAdmin } from '../support/admin-command.js';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { basicAuth } from '../support/flows.js';
import { UserAgent, signIn } from '../support/browserless.js';

describe('the admin command, on the store a running server uses', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    gh = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  it('adds a client (secret printed once), lists it, and removes it; the server honours each step', async () => {
    const added = await admin([
      'clients',
      'add',
      '--name',
      'Batch job',
      '--grant-type',
      'client_credentials',
      '--id',
      'batch-job',
    ]);
    expect(added.code).toBe(0);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1];
    expect(secret).toEqual(expect.any(String));
    const token = () =>
      fetch(`${gh.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth('batch-job', secret!),
        },
        body: 'grant_type=client_credentials',
      });
    expect((await token()).status).toBe(200);
    expect((await admin(['clients', 'list'])).stdout).toMatch(/batch-job\t\(stored\)\tBatch job/);
    expect((await admin(['clients', 'remove', 'batch-job'])).code).toBe(0);
    expect((await token()).status).toBe(401);
  });

  it('adds a user with a hashed password who can then sign in', async () => {
    const added = await admin(
      ['users', 'add', 'zoe', '--email', 'zoe@example.com', '--sub', 'zoe-1'],
      'zoe-password-123\n',
    );
    expect(added).toMatchObject({ code: 0, stdout: 'user zoe saved (sub zoe-1)\n' });
    expect((await admin(['users', 'list'])).stdout).toContain('zoe\tzoe-1\t(stored)');
    const url = `${gh.issuer}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://rp.example.com/cb')}&code_challenge=${'b'.repeat(43)}&code_challenge_method=S256`;
    const callback = await signIn(new UserAgent(gh.issuer), url, {
      username: 'zoe',
      password: 'zoe-password-123',
    });
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    expect((await admin(['users', 'remove', 'zoe'])).code).toBe(0);
  });

  it('lists and rotates signing keys', async () => {
    expect((await admin(['keys', 'list'])).stdout.trim().split('\n')).toHaveLength(2);
    const rotated = await admin(['keys', 'rotate']);
    expect(rotated.stdout).toMatch(/^new keys published now, signing from \d{4}-/);
    const listed = (await admin(['keys', 'list'])).stdout;
    expect(listed.match(/published, signs from/g)).toHaveLength(2);
    expect(listed.match(/retiring at/g)).toHaveLength(2);
    expect(await gh.refreshKeys()).toBe(true);
    expect(((await (await fetch(`${gh.issuer}/jwks`)).json()) as { keys: unknown[] }).keys).toHaveLength(4);
  });

  it('checks a configuration file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admin-'));
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ users: [] }));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ttl: { accessToken: 'soon' } }));
    expect((await admin(['config', 'check', join(dir, 'good.json')])).stdout).toMatch(
      /^configuration OK: 1 clients, 0 users/,
    );
    const bad = await admin(['config', 'check', join(dir, 'bad.json')]);
    rmSync(dir, { recursive: true, force: true });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ttl.accessToken');
  });
});
