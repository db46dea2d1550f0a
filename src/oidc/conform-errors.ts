import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Provider middleware correcting error codes where oidc-provider's differ from the RFC:
 * a grant type the client is not registered for is `unauthorized_client` (RFC 6749 §5.2),
 * which oidc-provider answers as `invalid_request`.
 */
export async function conformErrors(ctx: KoaContextWithOIDC, next: Next) {
  await next();
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (
    ctx.oidc?.route === 'token' &&
    body?.error === 'invalid_request' &&
    body.error_description === 'requested grant type is not allowed for this client'
  ) {
    body.error = 'unauthorized_client';
  }
}
