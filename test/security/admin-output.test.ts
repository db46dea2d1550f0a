import { runAdmin } from '../support/admin-command.js';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { saveStoredUser } from '../../src/accounts/stored-accounts.js';
import { escapeForTerminal } from '../../src/bin/terminal-text.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: the operator's terminal. Client names reach the store from whoever can register
 * a client; the admin command prints them. Terminal escape sequences in a name must never reach
 * the screen raw (they can retitle the window, clear the screen, move the cursor to overwrite
 * other rows), nor may bidi overrides or zero-width characters disguise one name as another.
 */

/** Anything a terminal would interpret or hide (tab and newline are the command's own layout). */
const RAW_UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;

const HOSTILE = {
  // OSC 0 (set window title) ended by BEL; CSI 2J (clear screen); CSI H (cursor home).
  title: 'Acme\u001b]0;you have been pwned\u0007',
  clear: 'Acme\u001b[2J\u001b[HAWS CLI',
  // C1 CSI (U+009B) is ESC [ in one character on terminals that honour 8-bit controls.
  c1: 'Acme\u009b31mred',
  // "Right-to-left override" reorders what follows; zero-width space hides a difference.
  bidi: 'AWS CLI\u202eilc swa',
  zeroWidth: 'AWS\u200bCLI',
  del: 'rub\u007fout',
};

describe('the admin command prints stored names escaped', () => {
  let redis: RedisServer;
  let store: Store;
  beforeAll(async () => {
    redis = await startRedisServer();
    const config = loadConfig({ env: { REDIS_URL: redis.url, LOG_LEVEL: 'silent' } });
    store = await openStore(config, pino({ level: 'silent' }));
    for (const [id, name] of Object.entries(HOSTILE)) {
      await store
        .adapter('Client')
        .upsert(`hostile-${id}`, { client_id: `hostile-${id}`, client_name: name } as never, 0);
    }
    // A client id and a username are printed too.
    await store
      .adapter('Client')
      .upsert('id\u001b[1Ahidden', { client_id: 'id\u001b[1Ahidden', client_name: 'x' } as never, 0);
    await saveStoredUser(store, {
      username: 'mallory\u001b[2K',
      passwordHash:
        '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      claims: { sub: 'sub\u202eevil' },
    });
  });
  afterAll(async () => {
    await store?.close();
    await redis?.destroy();
  });

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  it('clients list: no raw control, bidi or zero-width character, each shown as \\u{…}', async () => {
    const { code, stdout } = await admin(['clients', 'list']);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(RAW_UNSAFE);
    expect(stdout).not.toContain('\u001b');
    for (const [id, name] of Object.entries(HOSTILE)) {
      expect(stdout).toContain(`hostile-${id}\t(stored)\t${escapeForTerminal(name)}\n`);
    }
    expect(stdout).toContain('Acme\\u{1b}]0;you have been pwned\\u{7}');
    expect(stdout).toContain('AWS CLI\\u{202e}ilc swa');
    expect(stdout).toContain('id\\u{1b}[1Ahidden\t(stored)\tx');
  });

  it('users list: usernames and subs escaped too', async () => {
    const { code, stdout } = await admin(['users', 'list']);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(RAW_UNSAFE);
    expect(stdout).toContain('mallory\\u{1b}[2K\tsub\\u{202e}evil\t(stored)');
  });

  it('escapes a backslash, so a name cannot spell out a fake escape', () => {
    expect(escapeForTerminal('a\\u{1b}b\u001b')).toBe('a\\\\u{1b}b\\u{1b}');
  });
});

describe('the admin command refuses such characters in what it is given', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.destroy());

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  it.each([
    [
      'a client name',
      ['clients', 'add', '--name', HOSTILE.clear, '--redirect-uri', 'https://a.example.com/cb'],
    ],
    [
      'a client name with a bidi override',
      ['clients', 'add', '--name', HOSTILE.bidi, '--redirect-uri', 'https://a.example.com/cb'],
    ],
    [
      'a client id',
      ['clients', 'add', '--name', 'ok', '--id', 'x\u009bid', '--redirect-uri', 'https://a.example.com/cb'],
    ],
    ['a username', ['users', 'add', 'eve\u200b']],
    ['a display name', ['users', 'add', 'eve', '--name', HOSTILE.title]],
    ['an argument to remove', ['clients', 'remove', 'x\u001b[2J']],
  ])('refuses %s with exit code 2, echoing it escaped, storing nothing', async (_what, args) => {
    const result = await admin(args, 'a-long-enough-password\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/control, bidirectional and zero-width characters are not allowed/);
    expect(result.stderr).not.toMatch(RAW_UNSAFE);
    expect(result.stdout).toBe('');
    expect((await admin(['clients', 'list'])).stdout).not.toContain('(stored)');
    expect((await admin(['users', 'list'])).stdout).not.toContain('(stored)');
  });

  it('still accepts ordinary names, including non-Latin ones', async () => {
    const added = await admin([
      'clients',
      'add',
      '--name',
      'Fakturering — Ödeshög 請求',
      '--redirect-uri',
      'https://a.example.com/cb',
      '--id',
      'billing',
    ]);
    expect(added.code).toBe(0);
    expect((await admin(['clients', 'list'])).stdout).toContain(
      'billing\t(stored)\tFakturering — Ödeshög 請求',
    );
  });
});
