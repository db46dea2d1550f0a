import type { FindAccount } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';

/**
 * oidc-provider's findAccount: resolves a subject to an account whose claims() returns every
 * claim; the provider releases only those the granted scopes and claims allow.
 */
export function createFindAccount(accounts: AccountStore): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findBySub(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: () => ({ ...account.claims, sub }),
    };
  };
}
