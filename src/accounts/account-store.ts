import type { UserConfig } from '../config/schema.js';
import { verifyPassword } from './password.js';
import { createDummyHash } from './dummy-hash.js';

export interface Account {
  username: string;
  /** Every claim of the user, `sub` included; release per scope is the provider's job. */
  claims: Readonly<Record<string, unknown>> & { sub: string };
  /**
   * Set by `authenticate` when an upstream (an LDAP directory) checked the password: its id,
   * which ID tokens of this sign-in carry as `idp` (src/accounts/upstream-logins.ts).
   */
  upstreamId?: string;
}

export interface AccountStore {
  /**
   * Resolves the account for a username and password, or undefined; never says which was wrong.
   * `claims` (test mode only) chooses the claims of this login.
   */
  authenticate(
    username: string,
    password: string,
    options?: { claims?: Record<string, unknown> },
  ): Promise<Account | undefined>;
  findBySub(sub: string): Promise<Account | undefined>;
  /** The account whose `email` claim is this address (case-insensitive), if exactly one has it. */
  findByEmail(email: string): Promise<Account | undefined>;
  findByUsername(username: string): Promise<Account | undefined>;
}

export interface AccountStoreOptions {
  /** Checks a password against a stored value (verifyPassword; replaceable to observe it in tests). */
  verify?: (stored: string, candidate: string) => Promise<boolean>;
}

/**
 * An account store over the configured users. Usernames are matched case-insensitively. An
 * unknown username is verified against a dummy hash made (at creation) like most users' hashes,
 * so that the time an answer takes does not tell whether the username exists.
 */
export function createAccountStore(
  users: readonly UserConfig[],
  options: AccountStoreOptions = {},
): AccountStore {
  const verify = options.verify ?? verifyPassword;
  const dummyHash = createDummyHash(users.map((u) => u.password));
  // Not awaited until the first unknown username; a failure surfaces there, not as an
  // unhandled rejection at start-up.
  dummyHash.catch(() => undefined);
  const byName = new Map(users.map((u) => [u.username.toLowerCase(), u]));
  const bySub = new Map(users.map((u) => [u.claims.sub, u]));
  const byEmail = new Map<string, UserConfig | null>();
  for (const u of users) {
    const email = typeof u.claims.email === 'string' ? u.claims.email.toLowerCase() : undefined;
    if (email) byEmail.set(email, byEmail.has(email) ? null : u); // null: ambiguous, never matches
  }
  const toAccount = (u: UserConfig): Account => ({ username: u.username, claims: u.claims });
  const maybe = (u: UserConfig | null | undefined) => (u ? toAccount(u) : undefined);

  return {
    async authenticate(username, password) {
      const user = byName.get(username.trim().toLowerCase());
      const ok = await verify(user?.password ?? (await dummyHash), password);
      return user && ok ? toAccount(user) : undefined;
    },
    async findByEmail(email) {
      return maybe(byEmail.get(email.toLowerCase()));
    },
    async findBySub(sub) {
      return maybe(bySub.get(sub));
    },
    async findByUsername(username) {
      return maybe(byName.get(username.trim().toLowerCase()));
    },
  };
}
