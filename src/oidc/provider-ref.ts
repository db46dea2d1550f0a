import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import { effectiveJwks, loadSigningKeys, readKeyRecord, type SigningKeys } from '../keys/signing-keys.js';
import { loadDpopNonceSecret } from '../keys/dpop-nonce-secret.js';
import { createProvider, type ProviderDeps } from './create-provider.js';

/** The provider in use. It is replaced, never mutated, when the signing keys in effect change. */
export interface ProviderRef {
  readonly current: Provider;
  readonly deviceFlow: ReturnType<typeof createProvider>['deviceFlow'];
  readonly keys: SigningKeys;
}

const fingerprint = (jwks: SigningKeys['jwks']) => jwks.keys.map((k) => k.kid).join(',');

/**
 * Creates the provider from the signing keys in effect and, when keys live in the store, checks
 * every `keys.refreshSeconds` whether the keys in effect changed (a rotation was scheduled, a
 * new key activated, an old one retired) and swaps in a provider built with them. Every instance
 * does the same from the shared record, so they all follow one schedule. State lives in the
 * store, so requests in flight on the previous provider finish normally.
 */
export async function createProviderRef(
  baseDeps: Omit<ProviderDeps, 'keys' | 'dpopNonceSecret'> & { config: Config; store: Store; logger: Logger },
): Promise<{ ref: ProviderRef; stop(): void; refresh(): Promise<boolean> }> {
  const keys = await loadSigningKeys(baseDeps.config.jwks, baseDeps.store);
  // Read once at start, like the keys; it never changes (see keys/dpop-nonce-secret.ts).
  const dpopNonceSecret =
    baseDeps.config.dpop.nonces === 'off' ? undefined : await loadDpopNonceSecret(baseDeps.store);
  const deps = { ...baseDeps, ...(dpopNonceSecret ? { dpopNonceSecret } : {}) };
  const built = createProvider({ ...deps, keys });
  const state = { current: built.provider, deviceFlow: built.deviceFlow, keys };

  async function refresh(): Promise<boolean> {
    if (state.keys.source === 'config') return false;
    const record = await readKeyRecord(deps.store);
    if (!record) return false;
    const jwks = effectiveJwks(record);
    if (fingerprint(jwks) === fingerprint(state.keys.jwks)) return false;
    const next = createProvider({ ...deps, keys: { jwks, source: 'store' } });
    Object.assign(state, {
      current: next.provider,
      deviceFlow: next.deviceFlow,
      keys: { jwks, source: 'store' },
    });
    deps.logger.info(
      { event: 'keys.changed', kids: jwks.keys.map((k) => k.kid) },
      'signing keys in effect changed',
    );
    return true;
  }

  const timer =
    keys.source === 'config'
      ? undefined
      : setInterval(() => {
          refresh().catch((err: unknown) =>
            deps.logger.warn({ err: (err as Error).message }, 'could not refresh signing keys'),
          );
        }, deps.config.keys.refreshSeconds * 1000);
  timer?.unref();
  return { ref: state, stop: () => clearInterval(timer), refresh };
}
