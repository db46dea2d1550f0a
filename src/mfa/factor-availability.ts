import type { Store } from '../storage/store.js';
import { configuredTotpSecrets, createFactors } from './factors.js';
import type { FactorsHeld } from './acr.js';
import { createPasskeys } from './passkeys.js';

/**
 * Which factors a user holds, for step-up decisions (src/mfa/acr.ts `planStepUp`): whether asking
 * for more could meet a requested `acr` at all.
 *
 * Whether the user holds a passkey is looked up in the store (src/mfa/passkeys.ts) unless
 * `options.hasPasskey` says otherwise; both callers (the login-prompt check in
 * src/oidc/acr-policy.ts and the interaction router) build this with
 * `createFactorAvailability(store, config.users)`. Asking for the passkey is `askForPasskey` in
 * src/interactions/step-up.ts (the second-factor step's `askPasskey`).
 */
export function createFactorAvailability(
  store: Store,
  users: readonly { totp?: string | undefined; claims: { sub: string } }[],
  options: { hasPasskey?: ((sub: string) => Promise<boolean>) | undefined } = {},
) {
  const factors = createFactors(store, configuredTotpSecrets(users));
  const passkeys = createPasskeys(store);
  const hasPasskey = options.hasPasskey ?? ((sub: string) => passkeys.has(sub));
  return {
    async held(sub: string): Promise<FactorsHeld> {
      const [totp, passkey] = await Promise.all([factors.isEnrolled(sub), hasPasskey(sub)]);
      return { totp, passkey };
    },
  };
}

export type FactorAvailability = ReturnType<typeof createFactorAvailability>;
