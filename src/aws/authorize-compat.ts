import type { Context, Next } from 'koa';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { isAwsClient } from '../oidc/aws-clients.js';
import { AWS_BASE_PATH } from './router.js';

/**
 * The AWS CLI opens `<scheme>://<host>/authorize?…&scopes=<space-separated>` (the endpoint's
 * path dropped, `scopes` instead of `scope`). For clients registered through RegisterClient,
 * `scopes` is read as `scope`; `/aws/oidc/authorize` serves the same as `/authorize`.
 */
export function createAuthorizeCompat(providers: ProviderRef) {
  const compat = `${AWS_BASE_PATH}/authorize`;
  return function authorizeCompat(ctx: Context, next: Next) {
    if (ctx.path === compat) ctx.path = '/authorize';
    return ctx.path === '/authorize' ? readScopes(ctx, next) : next();
  };

  async function readScopes(ctx: Context, next: Next) {
    if (ctx.method === 'GET' && typeof ctx.query.scopes === 'string' && ctx.query.scope === undefined) {
      const clientId = ctx.query.client_id;
      const client = typeof clientId === 'string' ? await providers.current.Client.find(clientId) : undefined;
      if (isAwsClient(client)) {
        const params = new URLSearchParams(ctx.querystring);
        params.set('scope', params.get('scopes') ?? '');
        params.delete('scopes');
        ctx.querystring = params.toString();
      }
    }
    await next();
  }
}
