import type { Store } from '../storage/store.js';
import type { Account, AccountStore } from './account-store.js';
import { verifyPassword } from './password.js';
import { defaultDummyHash } from './dummy-hash.js';

/** A user added at runtime (the admin command); its password is always a PHC hash. */
export interface StoredUser {
  username: string;
  passwordHash: string;
  claims: Account['claims'];
}

const userKey = (username: string) => `user:${username.trim().toLowerCase()}`;
const subKey = (sub: string) => `user-sub:${sub}`;

/**
 * Users kept in the store (added with `npm run admin -- users add`), in front of the configured
 * ones: a stored user wins over a configured user with the same username.
 *
 * Records: `user:<username lower-case>` → StoredUser, `user-sub:<sub>` → username.
 */
export function createStoredAccountStore(configured: AccountStore, store: Store): AccountStore {
  const find = (username: string) => store.getRecord<StoredUser>(userKey(username));
  const toAccount = (u: StoredUser): Account => ({ username: u.username, claims: u.claims });
  return {
    async authenticate(username, password, options) {
      const user = await find(username);
      if (!user) return configured.authenticate(username, password, options);
      // A record without a hash (never written so by `users add`) verifies nothing, in the time
      // a real one takes.
      const stored = user.passwordHash || (await defaultDummyHash());
      return (await verifyPassword(stored, password)) ? toAccount(user) : undefined;
    },
    async findBySub(sub) {
      // Configured users first: they answer from memory, on every token and userinfo request.
      const fromConfig = await configured.findBySub(sub);
      if (fromConfig) return fromConfig;
      const username = await store.getRecord<string>(subKey(sub));
      const user = username ? await find(username) : undefined;
      return user && user.claims.sub === sub ? toAccount(user) : undefined;
    },
    findByEmail: (email) => configured.findByEmail(email),
    async findByUsername(username) {
      const user = await find(username);
      return user ? toAccount(user) : configured.findByUsername(username);
    },
  };
}

/** Adds or replaces a stored user. */
export async function saveStoredUser(store: Store, user: StoredUser): Promise<void> {
  const previous = await store.getRecord<StoredUser>(userKey(user.username));
  if (previous && previous.claims.sub !== user.claims.sub)
    await store.deleteRecord(subKey(previous.claims.sub));
  await store.setRecord(userKey(user.username), user);
  await store.setRecord(subKey(user.claims.sub), user.username.trim().toLowerCase());
}

export async function removeStoredUser(store: Store, username: string): Promise<boolean> {
  const user = await store.getRecord<StoredUser>(userKey(username));
  if (!user) return false;
  await store.deleteRecord(userKey(username));
  await store.deleteRecord(subKey(user.claims.sub));
  return true;
}

export async function listStoredUsers(store: Store): Promise<StoredUser[]> {
  const keys = await store.listKeys('rec:user:');
  const users = await Promise.all(keys.map((key) => store.getRecord<StoredUser>(key.slice('rec:'.length))));
  return users.filter((u): u is StoredUser => !!u);
}
