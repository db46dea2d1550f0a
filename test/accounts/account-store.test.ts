import { createAccountStore } from '../../src/accounts/account-store.js';
import { hashPassword } from '../../src/accounts/password.js';
import { BOB_SCRYPT, TEST_USERS } from '../support/gatehouse.js';

describe('the configured account store', () => {
  let accounts: ReturnType<typeof createAccountStore>;
  beforeAll(async () => {
    accounts = createAccountStore([
      { ...TEST_USERS.alice, claims: { ...TEST_USERS.alice.claims } }, // plain text
      { ...TEST_USERS.bob, password: BOB_SCRYPT, claims: { ...TEST_USERS.bob.claims } },
      {
        username: 'carol',
        password: await hashPassword('carol-password-1'),
        claims: { sub: 'carol-0003', email: 'shared@example.com' },
      },
      {
        username: 'broken',
        password: '$scrypt$ln=0,r=8,p=1$c2FsdA$c2FsdHNhbHRzYWx0c2FsdA',
        claims: { sub: 'broken-0004', email: 'shared@example.com' },
      },
    ]);
  });

  it('authenticates plain, scrypt and argon2id users with the right password only', async () => {
    expect((await accounts.authenticate('alice', TEST_USERS.alice.password))?.claims.sub).toBe('alice-0001');
    expect((await accounts.authenticate('bob', 'hunter2-hunter2'))?.claims.sub).toBe('bob-0002');
    expect((await accounts.authenticate('carol', 'carol-password-1'))?.claims.sub).toBe('carol-0003');
    for (const [username, password] of [
      ['alice', 'hunter2-hunter2'],
      ['bob', TEST_USERS.alice.password],
      ['carol', 'carol-password-2'],
      ['carol', ''],
    ]) {
      expect(await accounts.authenticate(username!, password!)).toBeUndefined();
    }
  });

  it('matches usernames case-insensitively, ignoring surrounding spaces', async () => {
    expect((await accounts.authenticate('  BOB ', 'hunter2-hunter2'))?.username).toBe('bob');
  });

  it('an unknown user, or one whose stored hash is malformed, is refused without an error', async () => {
    await expect(accounts.authenticate('mallory', 'anything')).resolves.toBeUndefined();
    await expect(accounts.authenticate('', '')).resolves.toBeUndefined();
    await expect(accounts.authenticate('broken', 'anything')).resolves.toBeUndefined();
  });

  it('finds accounts by sub and username; an email two users share finds neither', async () => {
    expect((await accounts.findBySub('bob-0002'))?.username).toBe('bob');
    expect(await accounts.findBySub('nobody')).toBeUndefined();
    expect((await accounts.findByUsername('ALICE'))?.claims.sub).toBe('alice-0001');
    expect((await accounts.findByEmail('ALICE@example.com'))?.username).toBe('alice');
    expect(await accounts.findByEmail('shared@example.com')).toBeUndefined();
  });
});
