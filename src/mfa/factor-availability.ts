import type { Store } from '../storage/store.js';
import { configuredTotpSecrets, createFactors } from './factors.js';
import type { FactorsHeld } from './acr.js';

/**
 * Which factors a user holds, for step-up decisions (src/mfa/acr.ts `planStepUp`): whether asking
 * for more could meet a requested `acr` at all.
 *
 * PASSKEY SEAM (1 of 2): whether the user holds a passkey. `options.hasPasskey` defaults to
 * `noPasskeys` (always false) until the passkeys code replaces that default with its store lookup;
 * both callers (the login-prompt check in src/oidc/acr-policy.ts and the interaction router) build
 * this with `createFactorAvailability(store, config.users)`, so that one line serves both. The
 * second seam, asking for the passkey, is `askForPasskey` in src/interactions/step-up.ts.
 */
export function createFactorAvailability(
  store: Store,
  users: readonly { totp?: string | undefined; claims: { sub: string } }[],
  options: { hasPasskey?: ((sub: string) => Promise<boolean>) | undefined } = {},
) {
  const factors = createFactors(store, configuredTotpSecrets(users));
  return {
    async held(sub: string): Promise<FactorsHeld> {
      const [totp, passkey] = await Promise.all([
        factors.isEnrolled(sub),
        (options.hasPasskey ?? noPasskeys)(sub),
      ]);
      return { totp, passkey };
    },
  };
}

export type FactorAvailability = ReturnType<typeof createFactorAvailability>;

/** The passkey lookup until passkeys exist: nobody holds one, so `phr` is met only by a session
 * whose `amr` already has `hwk`/`swk`. */
export const noPasskeys = async (_sub: string): Promise<boolean> => false;
