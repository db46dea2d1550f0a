import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { createGatehouse } from '../gatehouse.js';
import { createAccountStore } from '../accounts/account-store.js';
import { createStoredAccountStore } from '../accounts/stored-accounts.js';
import { endAccountSessions } from '../oidc/end-account-sessions.js';
import { escapeForTerminal as safe } from './terminal-text.js';

/**
 * `gatehouse-admin sessions revoke USERNAME`: ends every session of the user in the shared store
 * and delivers the back-channel logout tokens from this process, before it exits. It assembles
 * Gatehouse as a server would (same configuration, store and signing keys, nothing listening), so
 * the logout tokens are signed with the keys relying parties fetch from /jwks. Failed deliveries
 * are logged on stderr and counted in the summary; they are not retried.
 */
export async function revokeSessions(
  config: Readonly<Config>,
  username: string,
  options: { allGrants?: boolean },
): Promise<{ text: string; code: number }> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const gatehouse = await createGatehouse(config, { logger });
  try {
    const accounts = createStoredAccountStore(createAccountStore(config.users), gatehouse.store);
    const account = await accounts.findByUsername(username);
    if (!account) return { text: `gatehouse-admin: no user ${safe(username)}`, code: 1 };
    const ended = await endAccountSessions(
      {
        provider: gatehouse.provider,
        store: gatehouse.store,
        backchannelLogout: gatehouse.backchannelLogout,
      },
      account.claims.sub,
      options,
    );
    const { delivered, failed, timeout } = ended.deliveries;
    return {
      text:
        `ended ${ended.sessions} session(s) of ${safe(username)}, revoked ${ended.grants} grant(s); ` +
        `logout tokens: ${delivered} delivered, ${failed + timeout} failed`,
      code: failed + timeout > 0 ? 3 : 0,
    };
  } finally {
    await gatehouse.close();
  }
}
