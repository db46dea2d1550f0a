import type { UserConfig } from '../config/schema.js';
import { DUMMY_HASH, verifyPassword } from './password.js';

export interface Account {
  username: string;
  /** Every claim of the user, `sub` included; release per scope is the provider's job. */
  claims: Readonly<Record<string, unknown>> & { sub: string };
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

/** An account store over the configured users. Usernames are matched case-insensitively. */
export function createAccountStore(users: readonly UserConfig[]): AccountStore {
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
      const ok = await verifyPassword(user?.password ?? DUMMY_HASH, password);
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
