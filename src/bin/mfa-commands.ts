import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import { createAccountStore } from '../accounts/account-store.js';
import { createStoredAccountStore } from '../accounts/stored-accounts.js';
import { configuredTotpSecrets, createFactors } from '../mfa/factors.js';
import { newTotpSecret, totpUri } from '../mfa/totp.js';
import { createPasskeys } from '../mfa/passkeys.js';
import { escapeForTerminal as safe } from './terminal-text.js';

export const MFA_COMMANDS = ['reset-mfa', 'enrol-totp', 'recovery-codes'] as const;

/**
 * `gatehouse-admin users reset-mfa|enrol-totp|recovery-codes USERNAME`: removes a user's second
 * factors and recovery codes, enrols an authenticator app (the secret is printed once, never
 * logged), or replaces the recovery codes (printed once; only their hashes are kept).
 */
export async function runMfaCommand(
  store: Store,
  config: Config,
  command: (typeof MFA_COMMANDS)[number],
  username: string | undefined,
  /** Records the change (an audit line: who, what, when; never a secret or a code). */
  audit: (event: string, fields: Record<string, unknown>) => void = () => undefined,
): Promise<{ text: string; code: number }> {
  if (!username) return { text: `gatehouse-admin: users ${command} USERNAME`, code: 2 };
  const accounts = createStoredAccountStore(createAccountStore(config.users), store);
  const account = await accounts.findByUsername(username);
  if (!account) return { text: `gatehouse-admin: no user ${safe(username)}`, code: 1 };
  const { sub } = account.claims;
  const factors = createFactors(store, configuredTotpSecrets(config.users));
  const who = `${safe(account.username)} (sub ${safe(sub)})`;
  switch (command) {
    case 'reset-mfa': {
      const { configuredTotpRemains } = await factors.reset(sub);
      const passkeysRemoved = await createPasskeys(store).removeAll(sub);
      audit('mfa.reset', { sub, username: account.username, passkeysRemoved });
      return {
        text: configuredTotpRemains
          ? `removed the stored second factors, passkeys (${passkeysRemoved}) and recovery codes of ${who}; its users[].totp in the configuration file still applies: remove it there`
          : `removed the second factors, passkeys (${passkeysRemoved}) and recovery codes of ${who}: the next sign-in asks for the password only`,
        code: 0,
      };
    }
    case 'enrol-totp': {
      const secret = newTotpSecret();
      await factors.setTotp(sub, secret);
      audit('mfa.totp_enrolled', { sub, username: account.username });
      const uri = totpUri(secret, new URL(config.issuer).host, account.username);
      return {
        text: [
          `authenticator app enrolled for ${who}; from the next sign-in it asks for a code.`,
          `Give the user, once, over a safe channel:`,
          `secret: ${secret}`,
          `uri: ${uri}`,
        ].join('\n'),
        code: 0,
      };
    }
    case 'recovery-codes': {
      const codes = await factors.newRecoveryCodes(sub);
      audit('mfa.recovery_codes_replaced', { sub, username: account.username, count: codes.length });
      return {
        text: [
          `new recovery codes for ${who} (the old ones no longer work; each works once):`,
          ...codes,
        ].join('\n'),
        code: 0,
      };
    }
  }
}
