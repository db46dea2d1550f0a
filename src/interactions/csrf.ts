import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Anti-CSRF tokens for the interaction forms: an HMAC of the interaction uid under the first
 * cookie key. Loading an interaction already needs its signed cookie, so a forged cross-site
 * POST fails twice: no cookie binding and no token.
 */
export function createCsrf(secret: string) {
  const tokenFor = (uid: string) =>
    createHmac('sha256', secret).update(`interaction:${uid}`).digest('base64url');
  return {
    tokenFor,
    verify(uid: string, presented: unknown): boolean {
      if (typeof presented !== 'string' || presented.length === 0) return false;
      const expected = Buffer.from(tokenFor(uid));
      const actual = Buffer.from(presented);
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    },
  };
}
