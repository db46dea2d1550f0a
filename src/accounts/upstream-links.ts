import { createHash } from 'node:crypto';
import type { Store } from '../storage/store.js';

/**
 * Links between upstream identities and Gatehouse accounts.
 *
 * Records: `upstream-link:<upstream id>:<sha256(iss, upstream sub) base64url>` → UpstreamLink.
 * The key is a hash so that its length does not depend on what the upstream sends.
 */
export interface UpstreamLink {
  /** The Gatehouse account. */
  sub: string;
  upstreamId: string;
  /** The user's subject at the upstream (for the admin listing). */
  upstreamSub: string;
  /** When the link was made (seconds since the epoch). */
  linkedAt: number;
}

const PREFIX = 'upstream-link:';

export function upstreamLinkKey(upstreamId: string, iss: string, upstreamSub: string): string {
  return `${PREFIX}${upstreamId}:${createHash('sha256').update(`${iss}\n${upstreamSub}`).digest('base64url')}`;
}

export async function readUpstreamLink(store: Store, key: string): Promise<UpstreamLink | undefined> {
  return store.getRecord<UpstreamLink>(key);
}

/** Stores the link; with `onlyIfAbsent`, only when no link exists yet (true when this call stored it). */
export async function writeUpstreamLink(
  store: Store,
  key: string,
  link: UpstreamLink,
  onlyIfAbsent = false,
): Promise<boolean> {
  if (onlyIfAbsent) return store.setRecordIfAbsent(key, link);
  await store.setRecord(key, link);
  return true;
}

/** Every upstream linked to the account `sub` (a scan: for the admin command, not for sign-ins). */
export async function listUpstreamLinks(
  store: Store,
  sub: string,
): Promise<(UpstreamLink & { key: string })[]> {
  const keys = await store.listKeys(`rec:${PREFIX}`);
  const links = await Promise.all(
    keys.map(async (k) => {
      const key = k.slice('rec:'.length);
      const link = await store.getRecord<UpstreamLink>(key);
      return link ? { ...link, key } : undefined;
    }),
  );
  return links.filter((l): l is UpstreamLink & { key: string } => !!l && l.sub === sub);
}

/** Removes the links of `sub` to `upstreamId`; the next sign-in through it creates or links an account anew. */
export async function removeUpstreamLinks(store: Store, sub: string, upstreamId: string): Promise<number> {
  const links = (await listUpstreamLinks(store, sub)).filter((l) => l.upstreamId === upstreamId);
  for (const link of links) await store.deleteRecord(link.key);
  return links.length;
}
