import { randomBytes } from 'node:crypto';
import type { Store } from '../storage/store.js';
import { hashTokenIds, tokenStorageId } from './hashed-tokens.js';

/**
 * The oidc-provider registration policy a trusted initial access token carries. The library
 * copies an initial access token's policies onto the registration access token it issues, so
 * the client stays trusted when it later replaces its metadata (see registration.ts).
 *
 * @see https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#featuresregistration
 */
export const TRUSTED_POLICY = 'gatehouse-trusted';

const MODEL = 'InitialAccessToken';
/** How many characters of the stored hash name a token in listings and `revoke`. */
const ID_LENGTH = 12;

export interface InitialAccessTokenInfo {
  /** The first characters of the token's SHA-256: names it without revealing it. */
  id: string;
  createdAt: number;
  label: string | undefined;
  trusted: boolean;
}

interface StoredToken {
  iat: number;
  kind: string;
  policies?: string[];
  label?: string;
}

/**
 * Creates an initial access token in the store (oidc-provider's InitialAccessToken model, kept
 * under the value's hash: see hashed-tokens.ts). Clients registered with a `trusted` token are
 * not marked on the sign-in and consent pages as registered by a third party.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3
 */
export async function createInitialAccessToken(
  store: Store,
  options: { label?: string; trusted: boolean },
): Promise<{ id: string; token: string }> {
  const token = randomBytes(32).toString('base64url');
  const record: StoredToken = {
    iat: Math.floor(Date.now() / 1000),
    kind: MODEL,
    ...(options.trusted ? { policies: [TRUSTED_POLICY] } : {}),
    ...(options.label ? { label: options.label } : {}),
  };
  await hashTokenIds(store.adapter(MODEL)).upsert(token, record as never, 0);
  return { id: tokenStorageId(token).slice(0, ID_LENGTH), token };
}

/** The stored initial access tokens, oldest first (never their values, which are not stored). */
export async function listInitialAccessTokens(store: Store): Promise<InitialAccessTokenInfo[]> {
  const adapter = store.adapter(MODEL);
  const rows: InitialAccessTokenInfo[] = [];
  for (const key of await store.listKeys(`${MODEL}:`)) {
    const storageId = key.slice(MODEL.length + 1);
    const record = (await adapter.find(storageId)) as StoredToken | undefined;
    if (!record) continue;
    rows.push({
      id: storageId.slice(0, ID_LENGTH),
      createdAt: record.iat,
      label: record.label,
      trusted: !!record.policies?.includes(TRUSTED_POLICY),
    });
  }
  return rows.sort((a, b) => a.createdAt - b.createdAt);
}

/** Deletes the stored token `id` names; false when none or several do. */
export async function revokeInitialAccessToken(store: Store, id: string): Promise<boolean> {
  if (id.length < 6) return false;
  const matches = (await store.listKeys(`${MODEL}:`))
    .map((key) => key.slice(MODEL.length + 1))
    .filter((storageId) => storageId.startsWith(id));
  if (matches.length !== 1) return false;
  await store.adapter(MODEL).destroy(matches[0]!);
  return true;
}
