import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Store } from '../storage/store.js';

/**
 * A signing key with its rotation schedule (epoch seconds): it is published from the moment it
 * is stored, signs from `activatesAt` (while it is the newest active key of its algorithm), and
 * is withdrawn at `retiresAt`, once nothing it signed can still be alive.
 */
export interface ScheduledKey {
  jwk: JWK;
  createdAt: number;
  activatesAt: number;
  retiresAt?: number;
}

export interface KeyRecord {
  version: 2;
  keys: ScheduledKey[];
}

export interface SigningKeys {
  /** Private JWKS handed to oidc-provider (it publishes only the public parts at /jwks). */
  jwks: { keys: JWK[] };
  source: 'config' | 'store' | 'generated';
}

export const KEY_RECORD = 'signing-keys';
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

const now = () => Math.floor(Date.now() / 1000);

/**
 * The JWKS in effect at `at`: retired keys left out; active keys newest first (oidc-provider
 * signs with the first key of an algorithm); keys not yet active after them, published so
 * relying parties have them before they sign anything.
 */
export function effectiveJwks(record: KeyRecord, at = now()): { keys: JWK[] } {
  const live = record.keys.filter((k) => k.retiresAt === undefined || k.retiresAt > at);
  const active = live.filter((k) => k.activatesAt <= at).sort((a, b) => b.activatesAt - a.activatesAt);
  const pending = live.filter((k) => k.activatesAt > at).sort((a, b) => a.activatesAt - b.activatesAt);
  return { keys: [...active, ...pending].map((k) => k.jwk) };
}

/** Reads the key record, accepting the first format (`{ keys: JWK[] }`, all active). */
export async function readKeyRecord(store: Store): Promise<KeyRecord | undefined> {
  const raw = await store.getRecord<KeyRecord | { keys: JWK[] }>(KEY_RECORD);
  if (!raw) return undefined;
  if ('version' in raw && raw.version === 2) return raw;
  return { version: 2, keys: (raw.keys as JWK[]).map((jwk) => ({ jwk, createdAt: 0, activatesAt: 0 })) };
}

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
  const existing = await readKeyRecord(store);
  if (existing) return { jwks: effectiveJwks(existing), source: 'store' };

  const t = now();
  const generated: KeyRecord = {
    version: 2,
    keys: await Promise.all(
      SIGNING_ALGS.map(async (alg) => ({ jwk: await generateJwk(alg), createdAt: t, activatesAt: t })),
    ),
  };
  const won = await store.setRecordIfAbsent(KEY_RECORD, generated);
  const record = won ? generated : ((await readKeyRecord(store)) ?? generated);
  return { jwks: effectiveJwks(record), source: won ? 'generated' : 'store' };
}

/**
 * Schedules a rotation: a new key per algorithm, published now and signing from
 * `now + propagationSeconds`; the keys it replaces retire `maxTokenLifetimeSeconds` after that.
 * Keys already retired are dropped from the record.
 */
export async function rotateSigningKeys(
  store: Store,
  options: { propagationSeconds: number; maxTokenLifetimeSeconds: number },
): Promise<KeyRecord> {
  const t = now();
  const current = (await readKeyRecord(store)) ?? { version: 2 as const, keys: [] };
  const activatesAt = t + options.propagationSeconds;
  const retiresAt = activatesAt + options.maxTokenLifetimeSeconds;
  const kept = current.keys
    .filter((k) => k.retiresAt === undefined || k.retiresAt > t)
    .map((k) => (k.retiresAt === undefined || k.retiresAt > retiresAt ? { ...k, retiresAt } : k));
  const fresh = await Promise.all(
    SIGNING_ALGS.map(async (alg) => ({ jwk: await generateJwk(alg), createdAt: t, activatesAt })),
  );
  const record: KeyRecord = { version: 2, keys: [...kept, ...fresh] };
  await store.setRecord(KEY_RECORD, record);
  return record;
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
