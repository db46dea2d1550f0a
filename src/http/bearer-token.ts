import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';

/**
 * Koa middleware admitting only requests carrying `Authorization: Bearer <token>` with the
 * operator's token; others get `401 {"error":"invalid_token"}` with a `WWW-Authenticate`
 * challenge. Both sides are hashed first so the comparison takes the same time whatever the
 * length or content of what was sent.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function requireBearerToken(token: string, realm: string) {
  const expected = digest(`Bearer ${token}`);
  return async function bearerToken(ctx: Context, next: Next) {
    if (!timingSafeEqual(digest(ctx.get('authorization')), expected)) {
      ctx.status = 401;
      ctx.set('www-authenticate', `Bearer realm="${realm}"`);
      ctx.set('cache-control', 'no-store');
      ctx.body = {
        error: 'invalid_token',
        error_description: `a valid ${realm} bearer token is required`,
      };
      return;
    }
    await next();
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();
