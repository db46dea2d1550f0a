import type { Store } from '../storage/store.js';

/**
 * Which upstream identity provider signed an account in at a given login time, so that ID tokens
 * issued from that sign-in (directly, or later from its code or refresh token) carry `idp`.
 *
 * Records: `upstream-login:<sub>:<login time in seconds>` → the upstream id.
 */
const key = (sub: string, loginTs: number) => `upstream-login:${sub}:${loginTs}`;

export function recordUpstreamLogin(
  store: Store,
  login: { sub: string; loginTs: number; upstreamId: string },
  ttlSeconds: number,
): Promise<void> {
  return store.setRecord(key(login.sub, login.loginTs), login.upstreamId, ttlSeconds);
}

export function findUpstreamLogin(store: Store, sub: string, loginTs: number): Promise<string | undefined> {
  return store.getRecord<string>(key(sub, loginTs));
}

/**
 * How long the record is kept: as long as the session or a refresh token of the sign-in may
 * still lead to an ID token.
 */
export function upstreamLoginTtl(ttl: { session: number; refreshToken: number }): number {
  return Math.max(ttl.session, ttl.refreshToken);
}
