import type { FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';

/** Finds the upstream identity provider (its id) that signed `sub` in at `loginTs`, if any. */
export type UpstreamOfLogin = (sub: string, loginTs: number) => Promise<string | undefined>;

/**
 * oidc-provider's findAccount: resolves a subject to an account whose claims() returns every
 * claim; the provider releases only those the granted scopes and claims allow. With
 * `upstreamOfLogin`, ID tokens of a sign-in through an upstream also carry `idp` (its id).
 */
export function createFindAccount(accounts: AccountStore, upstreamOfLogin?: UpstreamOfLogin): FindAccount {
  return async (ctx, sub, token) => {
    const account = await accounts.findBySub(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: async (use) => {
        const claims = { ...account.claims, sub };
        if (!upstreamOfLogin || use !== 'id_token') return claims;
        const loginTs = loginTime(ctx, token);
        const idp = loginTs === undefined ? undefined : await upstreamOfLogin(sub, loginTs);
        return idp ? { ...claims, idp } : claims;
      },
    };
  };
}

/** The login time of the sign-in an ID token is issued for: its code's or refresh token's, else the session's. */
function loginTime(ctx: KoaContextWithOIDC, token: unknown): number | undefined {
  const fromToken = (token as { authTime?: unknown } | undefined)?.authTime;
  if (typeof fromToken === 'number') return fromToken;
  const session = ctx?.oidc?.session as { authTime?: () => unknown } | undefined;
  const fromSession = session?.authTime?.();
  return typeof fromSession === 'number' ? fromSession : undefined;
}
