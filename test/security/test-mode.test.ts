import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { obtainCode, redeemCode } from '../support/flows.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: test mode, where anyone signs in and `/_test` mints tokens and deletes state.
 * It must never be pointed at, or reach into, a deployment's real state by accident: not through
 * a staging NODE_ENV, not through a shared Redis, not from the network.
 */
const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';
const BIN = fileURLToPath(new URL('../../dist/bin/gatehouse.js', import.meta.url));

const startTestMode = (redisUrl: string, env: Record<string, string> = {}, overrides = {}) =>
  startGatehouse({
    mode: 'test',
    port: 0,
    host: '127.0.0.1',
    env: {
      LOG_LEVEL: 'silent',
      REDIS_URL: redisUrl,
      GATEHOUSE_ALLOW_INSECURE: 'test-mode-shared-store',
      TEST_API_TOKEN,
      ...env,
    },
    overrides: { clients: [TEST_CLIENTS.web], ...overrides },
  });

describe('test mode on a shared store', () => {
  const shared = {
    GATEHOUSE_MODE: 'test',
    ISSUER: 'https://id.example.com',
    REDIS_URL: 'redis://127.0.0.1:1',
  };

  it.each([
    ['NODE_ENV=staging', { ...shared, NODE_ENV: 'staging' }],
    ['NODE_ENV unset', shared],
    ['"all" allowed (it does not cover this)', { ...shared, GATEHOUSE_ALLOW_INSECURE: 'all' }],
  ])('is refused with %s, naming the opt-in', (_what, env) => {
    let refused: unknown;
    try {
      loadConfig({ env });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(
      /^GATEHOUSE_MODE: .*GATEHOUSE_ALLOW_INSECURE=test-mode-shared-store/,
    );
  });

  it('starts on the in-memory store, or on Redis when opted in by name', () => {
    expect(loadConfig({ env: { GATEHOUSE_MODE: 'test', NODE_ENV: 'staging' } }).mode).toBe('test');
    const optedIn = loadConfig({ env: { ...shared, GATEHOUSE_ALLOW_INSECURE: 'test-mode-shared-store' } });
    expect(optedIn.mode).toBe('test');
  });
});

describe('test mode beside a standard deployment on one Redis (opted in)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let standard: RunningGatehouse;
  let testMode: RunningGatehouse;
  let standardToken: string;
  let standardKeys: string[];

  const standardKeysNow = async () =>
    (await raw.keys('gatehouse:*')).filter((k) => !k.startsWith('gatehouse:test-mode:')).sort();
  const userinfo = (gh: RunningGatehouse, token: string) =>
    fetch(`${gh.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  const testApi = (method: string, path: string, body?: unknown, authorization?: string) =>
    fetch(`${testMode.issuer}/_test${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(authorization ? { authorization } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  const withToken = `Bearer ${TEST_API_TOKEN}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url);
    standard = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
    const { code, verifier } = await obtainCode(standard.issuer, { offline: true });
    standardToken = (await redeemCode(standard.issuer, code, verifier)).body.access_token!;
    standardKeys = await standardKeysNow();
    testMode = await startTestMode(redis.url);
  });
  afterAll(async () => {
    await testMode?.stop();
    await standard?.stop();
    raw?.disconnect();
    await redis?.destroy();
  });

  it('the standard deployment holds state to lose', async () => {
    expect(standardKeys.length).toBeGreaterThan(5);
    expect(standardKeys).toContain('gatehouse:rec:mode');
    expect((await userinfo(standard, standardToken)).status).toBe(200);
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', `Bearer ${TEST_API_TOKEN.slice(0, -1)}X`],
    ['the token with another scheme', `Basic ${TEST_API_TOKEN}`],
  ])('refuses every /_test request with %s: 401 in the OAuth shape', async (_what, authorization) => {
    for (const [method, path, body] of [
      ['GET', ''],
      ['POST', '/tokens', { client_id: 'web-app', username: 'alice' }],
      ['POST', '/users', { username: 'mallory' }],
      ['POST', '/reset'],
      ['POST', '/revoke-all'],
    ] as [string, string, unknown?][]) {
      const res = await testApi(method, path, body, authorization);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="test API"');
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    }
    expect(await standardKeysNow()).toEqual(expect.arrayContaining(standardKeys));
  });

  it('mints tokens (with the token) that the standard deployment does not accept', async () => {
    const res = await testApi('POST', '/tokens', { client_id: 'web-app', username: 'alice' }, withToken);
    expect(res.status).toBe(200);
    const minted = ((await res.json()) as { access_token: string }).access_token;
    expect((await userinfo(testMode, minted)).status).toBe(200);
    expect((await userinfo(standard, minted)).status).toBe(401);
    expect(await raw.keys('gatehouse:test-mode:AccessToken:*')).toHaveLength(1);
  });

  it("reset and revoke-all delete test mode's keys only: the standard deployment's survive and work", async () => {
    expect((await testApi('POST', '/users', { username: 'carol' }, withToken)).status).toBe(201);
    expect((await testApi('POST', '/revoke-all', undefined, withToken)).status).toBe(200);
    const reset = await testApi('POST', '/reset', undefined, withToken);
    expect(reset.status).toBe(200);
    expect(((await reset.json()) as { deleted: number }).deleted).toBeGreaterThan(0);

    expect(await standardKeysNow()).toEqual(expect.arrayContaining(standardKeys));
    expect((await userinfo(standard, standardToken)).status).toBe(200);
    expect((await raw.keys('gatehouse:test-mode:*')).sort()).toEqual([
      'gatehouse:test-mode:rec:mode',
      'gatehouse:test-mode:rec:signing-keys',
    ]);
  });
});

describe('the store mode mark (rec:mode)', () => {
  let redis: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.destroy();
  });

  it('test mode refuses a namespace holding standard-mode state (prefixes that collide)', async () => {
    const standard = await startTestGatehouse({
      env: { REDIS_URL: redis.url },
      overrides: { redis: { keyPrefix: 'a:test-mode:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } },
    });
    await standard.stop();
    const before = (await raw.keys('a:*')).sort();
    const refused = await startTestMode(
      redis.url,
      {},
      { redis: { keyPrefix: 'a:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } },
    ).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(/holds standard-mode state .* refusing to start in test mode/);
    expect((await raw.keys('a:*')).sort()).toEqual(before);
  });

  it('test mode refuses a namespace holding unmarked state', async () => {
    await raw.set('b:test-mode:Client:legacy', '{}');
    const refused = await startTestMode(
      redis.url,
      {},
      { redis: { keyPrefix: 'b:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } },
    ).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(/already holds 1 keys not created by test mode/);
    expect(await raw.keys('b:*')).toEqual(['b:test-mode:Client:legacy']);
  });

  it('lets several test-mode instances start on one namespace at once', async () => {
    const prefix = { redis: { keyPrefix: 'd:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } };
    const started = await Promise.all([1, 2, 3].map(() => startTestMode(redis.url, {}, prefix)));
    for (const gh of started) await gh.stop();
    expect(await raw.get('d:test-mode:rec:mode')).toBe('"test"');
  });

  it('standard mode refuses a store marked for test mode', async () => {
    const testMode = await startTestMode(
      redis.url,
      {},
      { redis: { keyPrefix: 'c:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } },
    );
    await testMode.stop();
    const refused = await startTestGatehouse({
      env: { REDIS_URL: redis.url },
      overrides: { redis: { keyPrefix: 'c:test-mode:', commandTimeoutMs: 1500, connectTimeoutMs: 2000 } },
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(/holds test-mode state .* refusing to start in standard mode/);
  });
});

describe('npx gatehouse --test', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGTERM');
  });

  async function start(args: string[]): Promise<number> {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, '--test', '--port', String(port), ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    return port;
  }

  /** Whether a TCP connection to host:port is accepted. */
  const reachable = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });

  it('binds 127.0.0.1 only by default (another address of this machine is refused)', async () => {
    const port = await start([]);
    expect(await reachable('127.0.0.1', port)).toBe(true);
    // Every 127/8 address is this machine; one bound to all interfaces would answer here too.
    expect(await reachable('127.0.0.2', port)).toBe(false);
  });

  it('binds where --host says', async () => {
    const port = await start(['--host', '0.0.0.0']);
    expect(await reachable('127.0.0.2', port)).toBe(true);
  });
});
