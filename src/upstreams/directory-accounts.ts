import type { Logger } from 'pino';
import type { AccountStore } from '../accounts/account-store.js';
import type { LdapUpstreamConfig } from '../config/upstreams-schema.js';
import type { Metrics } from '../http/metrics.js';
import { UpstreamRefusal, type UpstreamAccounts } from './upstream-accounts.js';
import { DirectoryUnavailable, verifyDirectoryPassword } from './ldap-directory.js';

/**
 * The account store the sign-in form uses when LDAP upstreams are configured: the username and
 * password are checked against Gatehouse's own users and the directories in the order the first
 * LDAP upstream's `passwordOrder` says. A directory user gets an account like any upstream user
 * (upstream-accounts.ts), marked with the directory's upstream id (so that its ID tokens carry
 * `idp`). A directory that cannot be asked counts as a failed check (and is logged
 * and counted), never as a success.
 */
export function createDirectoryAccountStore(
  local: AccountStore,
  deps: { directories: LdapUpstreamConfig[]; accounts: UpstreamAccounts; metrics?: Metrics; logger?: Logger },
): AccountStore {
  const order = deps.directories[0]?.passwordOrder ?? 'local-first';
  const count = (upstream: string, result: 'success' | 'failure', reason = '') =>
    deps.metrics?.upstreamLogins.inc({ upstream, result, reason });

  async function fromDirectories(username: string, password: string) {
    for (const directory of deps.directories) {
      try {
        const claims = await verifyDirectoryPassword(directory, username, password);
        if (!claims) continue;
        const { sub } = await deps.accounts.resolve(directory, claims);
        count(directory.id, 'success');
        const account = await local.findBySub(sub);
        return account && { ...account, upstreamId: directory.id };
      } catch (err) {
        const reason = err instanceof UpstreamRefusal ? err.reason : 'unavailable';
        if (!(err instanceof UpstreamRefusal) && !(err instanceof DirectoryUnavailable)) throw err;
        count(directory.id, 'failure', reason);
        deps.logger?.warn(
          {
            audit: true,
            event: 'upstream.login.failure',
            upstream: directory.id,
            reason,
            detail: err.message,
          },
          'directory sign-in failed',
        );
      }
    }
    return undefined;
  }

  return {
    ...local,
    async authenticate(username, password, options) {
      if (order === 'ldap-only') return fromDirectories(username, password);
      if (order === 'ldap-first') {
        return (await fromDirectories(username, password)) ?? local.authenticate(username, password, options);
      }
      return (await local.authenticate(username, password, options)) ?? fromDirectories(username, password);
    },
    findBySub: (sub) => local.findBySub(sub),
    findByEmail: (email) => local.findByEmail(email),
    findByUsername: (username) => local.findByUsername(username),
  };
}
