import type { Context, Next } from 'koa';
import type { Views } from './views.js';

/**
 * Answers what no route handled (Koa would send a plain-text "Not Found") in the surface's
 * shape: the error page for browsers, `{ error, error_description }` for everyone else.
 */
export function createNotFound(views: Views) {
  return async function notFound(ctx: Context, next: Next) {
    await next();
    // No route matched: Koa leaves no body; oidc-provider's router answers a bare "Not Found".
    const bare = ctx.body === undefined || ctx.body === 'Not Found';
    if (ctx.status !== 404 || !bare || ctx.respond === false) return;
    ctx.set('cache-control', 'no-store');
    if (ctx.accepts('json', 'html') === 'html') {
      views.render(
        ctx,
        'error',
        {
          title: 'Page not found',
          message: 'There is nothing at this address.',
          error: 'not_found',
          requestId: ctx.state.requestId,
        },
        404,
      );
    } else {
      ctx.status = 404;
      ctx.body = {
        error: 'invalid_request',
        error_description: `unrecognized route: ${ctx.method} ${ctx.path}`,
      };
    }
  };
}
