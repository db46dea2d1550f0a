import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/schema.js';

type DPoPFeature = NonNullable<NonNullable<Configuration['features']>['dPoP']>;

/**
 * oidc-provider's DPoP feature (RFC 9449), advertised in discovery. A token requested with a
 * DPoP proof is bound to the proof's key (`cnf.jkt`, shown by /introspect) and accepted only with
 * a fresh proof by that key, never as a Bearer token; a public client's refresh token is bound
 * too; a client registered with `dpop_bound_access_tokens: true` gets no token without a proof.
 * Each proof's jti is accepted once (store-backed, see internals.ts makeReplayDetectionAtomic).
 *
 * Freshness: without nonces a proof's iat must be within the library's window (5 minutes either
 * way). With `dpop.nonces` `"offered"` every DPoP response carries a `DPoP-Nonce`, and a proof
 * may carry that nonce instead of a recent iat (a client with a wrong clock recovers with one
 * `use_dpop_nonce` retry); `"required"` refuses every proof without a valid nonce, so a proof
 * cannot be made before the server handed out its nonce. Nonces are derived from `nonceSecret`
 * and the current minute: every instance must hold the same secret (keys/dpop-nonce-secret.ts).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
export function buildDPoPFeature(config: Config, nonceSecret: Buffer | undefined): DPoPFeature {
  const nonces = config.dpop.nonces;
  if (nonces === 'off') return { enabled: true, allowReplay: false };
  if (!nonceSecret) throw new Error(`dpop.nonces "${nonces}" needs the DPoP nonce secret`);
  return {
    enabled: true,
    allowReplay: false,
    nonceSecret,
    requireNonce: () => nonces === 'required',
  };
}
