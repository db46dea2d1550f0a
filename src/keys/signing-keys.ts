import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Store } from '../storage/store.js';

export interface SigningKeys {
  /** Private JWKS handed to oidc-provider; it publishes only the public parts at /jwks. */
  jwks: { keys: JWK[] };
  source: 'config' | 'store' | 'generated';
}

const RECORD_KEY = 'signing-keys';

/**
 * Loads the signing keys: from configuration when given, else from the store, else generates
 * an RS256 and an ES256 key and stores them. Of instances racing on first start, the first
 * write wins and everyone uses its keys.
 */
export async function loadSigningKeys(
  configured: { keys: Record<string, unknown>[] } | undefined,
  store: Store,
): Promise<SigningKeys> {
  if (configured) {
    return {
      jwks: { keys: await Promise.all(configured.keys.map((k) => completeJwk(k as JWK))) },
      source: 'config',
    };
  }
  const existing = await store.getRecord<{ keys: JWK[] }>(RECORD_KEY);
  if (existing) return { jwks: existing, source: 'store' };

  const generated = { keys: [await generateJwk('RS256'), await generateJwk('ES256')] };
  const won = await store.setRecordIfAbsent(RECORD_KEY, generated);
  if (won) return { jwks: generated, source: 'generated' };
  const winner = await store.getRecord<{ keys: JWK[] }>(RECORD_KEY);
  return { jwks: winner ?? generated, source: 'store' };
}

async function generateJwk(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return completeJwk({ ...(await exportJWK(privateKey)), alg });
}

/** Every key gets `kid` (its RFC 7638 thumbprint unless set), `alg` and `use: sig`. */
async function completeJwk(jwk: JWK): Promise<JWK> {
  const alg = jwk.alg ?? (jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' ? 'ES256' : jwk.alg);
  return { ...jwk, alg, use: jwk.use ?? 'sig', kid: jwk.kid ?? (await calculateJwkThumbprint(jwk)) };
}
