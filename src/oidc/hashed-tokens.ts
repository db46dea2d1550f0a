import { createHash, timingSafeEqual } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * The models whose token values are bearer credentials for client registration: initial access
 * tokens (RFC 7591 §3, they allow registering) and registration access tokens (RFC 7592 §1.1,
 * they allow reading, replacing and deleting one client).
 */
export const HASHED_TOKEN_MODELS = new Set(['InitialAccessToken', 'RegistrationAccessToken']);

/** The id a token is stored under: the SHA-256 of its value, base64url. */
export function tokenStorageId(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * Wraps a store adapter so that a token's value never reaches the store: oidc-provider stores
 * an opaque token under its value (its `jti`), so the record is written under the value's
 * SHA-256 instead, without the `jti`, which a lookup by value puts back. Someone who can read
 * the store (a backup, a replica) then holds no usable registration credential.
 *
 * `presetValues` (for InitialAccessToken: `registration.initialAccessTokens` from the
 * configuration) are accepted as tokens without a record, compared in constant time.
 */
export function hashTokenIds(adapter: Adapter, presetValues: readonly string[] = []): Adapter {
  const presets = presetValues.map((value) => Buffer.from(tokenStorageId(value)));
  const since = Math.floor(Date.now() / 1000);
  const isPreset = (id: string) => {
    const presented = Buffer.from(tokenStorageId(id));
    // Every entry is compared (no early exit), so timing says nothing about which one matched.
    return presets.reduce((found, preset) => timingSafeEqual(preset, presented) || found, false);
  };
  return {
    async upsert(id, payload, expiresIn) {
      const { jti: _jti, ...rest } = payload as AdapterPayload & { jti?: string };
      await adapter.upsert(tokenStorageId(id), rest as AdapterPayload, expiresIn);
    },
    async find(id) {
      if (isPreset(id)) return { iat: since, kind: 'InitialAccessToken', jti: id } as AdapterPayload;
      const stored = await adapter.find(tokenStorageId(id));
      return stored && ({ ...stored, jti: id } as AdapterPayload);
    },
    async destroy(id) {
      await adapter.destroy(tokenStorageId(id));
    },
    findByUserCode: () => Promise.resolve(undefined),
    findByUid: () => Promise.resolve(undefined),
    consume: (id) => adapter.consume(tokenStorageId(id)),
    revokeByGrantId: (grantId) => adapter.revokeByGrantId(grantId),
  };
}
