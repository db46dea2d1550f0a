import type { Store } from '../storage/store.js';
import type { Account, AccountStore } from './account-store.js';

/** Claims a user gets in test mode when nothing else names them: derived from the username. */
export function defaultTestClaims(username: string): Account['claims'] {
  const email = username.includes('@') ? username : `${username}@example.com`;
  return {
    sub: username,
    preferred_username: username,
    name: username,
    email,
    email_verified: true,
  };
}

export interface TestUser {
  username: string;
  claims: Account['claims'];
}

/**
 * The test-mode account store: any username signs in (the password is ignored). A user's claims
 * are, first match wins: claims chosen for this login, claims queued for the user's next login,
 * a user created through the test API, a configured user, or `defaultTestClaims(username)`.
 * What a login resolves is kept (in the store) so tokens and /userinfo see the same claims.
 *
 * Records: `test-user:<username lower-case>`, `test-sub:<sub>` → username,
 * `test-next-claims:<username lower-case>`.
 */
export function createTestAccountStore(configured: AccountStore, store: Store) {
  const userKey = (username: string) => `test-user:${username.trim().toLowerCase()}`;
  const subKey = (sub: string) => `test-sub:${sub}`;
  const nextKey = (username: string) => `test-next-claims:${username.trim().toLowerCase()}`;

  async function saveUser(user: TestUser): Promise<Account> {
    await store.setRecord(userKey(user.username), user);
    await store.setRecord(subKey(user.claims.sub), user.username.trim().toLowerCase());
    return { username: user.username, claims: user.claims };
  }

  async function findUser(username: string): Promise<TestUser | undefined> {
    return store.getRecord<TestUser>(userKey(username));
  }

  const accounts: AccountStore & {
    saveUser: typeof saveUser;
    removeUser(username: string): Promise<boolean>;
    queueNextLoginClaims(username: string, claims: Record<string, unknown>): Promise<void>;
  } = {
    async authenticate(username, _password, options) {
      const name = username.trim();
      if (!name) return undefined;
      const next = await store.getRecord<Record<string, unknown>>(nextKey(name));
      if (next) await store.deleteRecord(nextKey(name));
      const base =
        (await findUser(name))?.claims ??
        (await configured.findByUsername(name))?.claims ??
        defaultTestClaims(name);
      const chosen = options?.claims ?? next;
      const claims = chosen ? { ...base, ...chosen, sub: String(chosen.sub ?? base.sub) } : base;
      return saveUser({ username: name, claims: claims as Account['claims'] });
    },
    async findBySub(sub) {
      const username = await store.getRecord<string>(subKey(sub));
      const user = username ? await findUser(username) : undefined;
      if (user && user.claims.sub === sub) return { username: user.username, claims: user.claims };
      return configured.findBySub(sub);
    },
    async findByEmail(email) {
      return configured.findByEmail(email);
    },
    async findByUsername(username) {
      const user = await findUser(username);
      return user ? { username: user.username, claims: user.claims } : configured.findByUsername(username);
    },
    saveUser,
    async removeUser(username) {
      const user = await findUser(username);
      if (!user) return false;
      await store.deleteRecord(userKey(username));
      await store.deleteRecord(subKey(user.claims.sub));
      return true;
    },
    async queueNextLoginClaims(username, claims) {
      await store.setRecord(nextKey(username), claims);
    },
  };
  return accounts;
}

export type TestAccountStore = ReturnType<typeof createTestAccountStore>;
