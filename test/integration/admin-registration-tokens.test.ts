import { runAdmin } from '../support/admin-command.js';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

describe('gatehouse-admin registration-tokens, on the store a running server uses', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    gh = await startTestGatehouse({
      env: { REDIS_URL: redis.url },
      overrides: {
        registration: { enabled: true, open: false, initialAccessTokens: [], maxRegistrationsPerHour: 100 },
      },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  const register = (token: string) =>
    fetch(`${gh.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ redirect_uris: ['https://rp.example.com/cb'] }),
    });

  it('creates a token (printed once) the server accepts, lists it without its value, and revokes it', async () => {
    const created = await admin(['registration-tokens', 'create', '--label', 'team ci', '--trusted']);
    expect(created.code).toBe(0);
    const [heading, token] = created.stdout.trim().split('\n');
    const id = /^initial access token (\S+) \(trusted/.exec(heading!)?.[1];
    expect(id).toMatch(/^[\w-]{12}$/);
    expect(token).toMatch(/^[\w-]{43}$/);
    expect((await register(token!)).status).toBe(201);

    const listed = await admin(['registration-tokens', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^${id}\\t\\d{4}-\\d\\d-\\d\\dT[^\\t]+\\ttrusted\\tteam ci$`, 'm'),
    );
    expect(listed.stdout).not.toContain(token);

    const revoked = await admin(['registration-tokens', 'revoke', id!]);
    expect(revoked.code).toBe(0);
    expect((await register(token!)).status).toBe(401);
    expect((await admin(['registration-tokens', 'list'])).stdout).not.toContain(id);
    expect((await admin(['registration-tokens', 'revoke', id!])).code).toBe(1);
  });

  it('refuses a label with terminal control characters', async () => {
    const res = await admin(['registration-tokens', 'create', '--label', 'evil\u001b[2J']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
  });

  it('marks tokens created without --trusted as third-party in the listing', async () => {
    const created = await admin(['registration-tokens', 'create']);
    expect(created.code).toBe(0);
    const id = /^initial access token (\S+)$/m.exec(created.stdout)?.[1];
    expect((await admin(['registration-tokens', 'list'])).stdout).toMatch(
      new RegExp(`^${id}\\t[^\\t]+\\tthird-party\\t$`, 'm'),
    );
  });
});
