import { randomBytes } from 'node:crypto';
import type { Store } from '../storage/store.js';

export const DPOP_NONCE_SECRET_RECORD = 'dpop-nonce-secret';

interface NonceSecretRecord {
  version: 1;
  /** 32 random bytes, base64url. */
  secret: string;
}

/**
 * Loads the secret DPoP server nonces are derived from, generating and storing it on first use.
 * oidc-provider derives each nonce from the secret and the current minute (HKDF), so a nonce one
 * instance hands out is accepted by every other only when they all hold the same secret: it
 * lives in the store like the signing keys, and of instances racing on first start the first
 * write wins and everyone uses its secret.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
export async function loadDpopNonceSecret(store: Store): Promise<Buffer> {
  const existing = await readSecret(store);
  if (existing) return existing;
  const generated: NonceSecretRecord = { version: 1, secret: randomBytes(32).toString('base64url') };
  await store.setRecordIfAbsent(DPOP_NONCE_SECRET_RECORD, generated);
  const stored = await readSecret(store);
  if (!stored) throw new Error('the DPoP nonce secret could not be read back from the store');
  return stored;
}

async function readSecret(store: Store): Promise<Buffer | undefined> {
  const record = await store.getRecord<NonceSecretRecord>(DPOP_NONCE_SECRET_RECORD);
  if (!record || typeof record.secret !== 'string') return undefined;
  const secret = Buffer.from(record.secret, 'base64url');
  if (secret.byteLength !== 32)
    throw new Error(`the stored ${DPOP_NONCE_SECRET_RECORD} record is not 32 bytes`);
  return secret;
}
