import { randomBytes } from 'node:crypto';
import { readUpstreamLink, upstreamLinkKey, writeUpstreamLink } from '../accounts/upstream-links.js';
import type { Store } from '../storage/store.js';
import type { AccountStore } from '../accounts/account-store.js';
import { saveStoredUser, type StoredUser } from '../accounts/stored-accounts.js';
import type { UpstreamConfig } from '../config/upstreams-schema.js';
import type { UpstreamClaims } from './oidc-upstream.js';

/**
 * Accounts of people who signed in through an upstream.
 *
 * Records: the link (accounts/upstream-links.ts) names the Gatehouse `sub`; the account
 * itself is a stored user (accounts/stored-accounts.ts) with no password, named
 * `upstream:<upstream id>:<hash prefix>`, so it can sign in through its upstream only. The
 * Gatehouse `sub` is random and opaque: the upstream's `sub` is never reused, so two upstreams
 * with the same `sub` never share an account.
 */
export interface UpstreamAccounts {
  /** The account for this upstream identity: linked, linked by email, or created now. */
  resolve(
    upstream: UpstreamConfig,
    claims: UpstreamClaims,
  ): Promise<{ sub: string; created: boolean; linked: boolean }>;
}

/** Thrown when the upstream identity may not sign in here (the reason goes to metrics and logs). */
export class UpstreamRefusal extends Error {
  override name = 'UpstreamRefusal';
  constructor(
    readonly reason: string,
    readonly userMessage: string,
  ) {
    super(userMessage);
  }
}

/** The Gatehouse claims of an upstream identity: the configured mapping, then `groups`. */
export function mapUpstreamClaims(upstream: UpstreamConfig, claims: UpstreamClaims): Record<string, unknown> {
  const mapped: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(upstream.claims)) {
    if (claims[from] !== undefined) mapped[to] = claims[from];
  }
  if (upstream.groupsClaim) {
    const groups = claims[upstream.groupsClaim];
    if (Array.isArray(groups)) mapped.groups = groups.filter((g): g is string => typeof g === 'string');
    else if (typeof groups === 'string') mapped.groups = [groups];
  }
  return mapped;
}

/** The upstream's email, only when the upstream says it is verified. */
export function verifiedEmail(claims: UpstreamClaims): string | undefined {
  return typeof claims.email === 'string' && claims.email_verified === true
    ? claims.email.toLowerCase()
    : undefined;
}

export function createUpstreamAccounts(deps: { store: Store; accounts: AccountStore }): UpstreamAccounts {
  const { store, accounts } = deps;
  return {
    async resolve(upstream, upstreamClaims) {
      const email = verifiedEmail(upstreamClaims);
      if (upstream.allowedEmailDomains.length) {
        const domain = email?.split('@').pop();
        if (!domain || !upstream.allowedEmailDomains.includes(domain)) {
          throw new UpstreamRefusal(
            'email_domain',
            `Your ${upstream.name} account does not have a verified email address in a domain allowed here.`,
          );
        }
      }
      const key = upstreamLinkKey(upstream.id, upstreamClaims.iss, upstreamClaims.sub);
      const claims = mapUpstreamClaims(upstream, upstreamClaims);
      const linkTo = (sub: string) => ({
        sub,
        upstreamId: upstream.id,
        upstreamSub: upstreamClaims.sub,
        linkedAt: Math.floor(Date.now() / 1000),
      });
      const existing = (await readUpstreamLink(store, key))?.sub;
      if (existing) {
        const account = await accounts.findBySub(existing);
        const username = upstreamUsername(key);
        // Accounts Gatehouse created keep the upstream's latest claims; linked accounts keep their own.
        if (account && account.username === username) {
          await saveStoredUser(store, { username, passwordHash: '', claims: { ...claims, sub: existing } });
        }
        if (account) return { sub: existing, created: false, linked: false };
      }
      if (upstream.linkByEmail && email) {
        const account = await accounts.findByEmail(email);
        if (account) {
          await writeUpstreamLink(store, key, linkTo(account.claims.sub));
          return { sub: account.claims.sub, created: false, linked: true };
        }
      }
      const sub = existing ?? `u_${randomBytes(18).toString('base64url')}`;
      const user: StoredUser = {
        username: upstreamUsername(key),
        passwordHash: '',
        claims: { ...claims, sub },
      };
      // Two first sign-ins at once: the first link wins and the other uses its account.
      if (!existing && !(await writeUpstreamLink(store, key, linkTo(sub), true))) {
        const winner = (await readUpstreamLink(store, key))?.sub;
        if (winner) return { sub: winner, created: false, linked: false };
      }
      await saveStoredUser(store, user);
      return { sub, created: true, linked: false };
    },
  };
}

/** The username of an account created for an upstream identity (no password: it never signs in here). */
function upstreamUsername(key: string): string {
  const [, id, hash] = key.split(':');
  return `upstream:${id}:${hash!.slice(0, 22)}`;
}
