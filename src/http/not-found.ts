import type { Context, Next } from 'koa';
import type { Views } from './views.js';
import type { Refuse } from './refusal.js';

export interface NotFoundDeps {
  views: Views;
  refuse: Refuse;
  /** The methods some route serves at `path` (empty for a path nothing serves). */
  methodsAt(path: string): string[];
}

/**
 * Answers what no route handled (Koa would send a plain-text "Not Found") in the surface's
 * shape: the error page for browsers, `{ error, error_description }` for everyone else. A path
 * that is served, only not with this method, gets 405 with `Allow` naming the methods it is
 * served with (RFC 9110 §15.5.6), so a wrong method never reads like a wrong URL.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6
 */
export function createNotFound(deps: NotFoundDeps) {
  const { views, refuse } = deps;
  return async function notFound(ctx: Context, next: Next) {
    await next();
    // No route matched: Koa leaves no body; oidc-provider's router answers a bare "Not Found".
    // koa-router's allowedMethods() leaves a bare 405 with its Allow header.
    const bare = ctx.body === undefined || ctx.body === 'Not Found';
    if ((ctx.status !== 404 && ctx.status !== 405) || !bare || ctx.respond === false) return;
    const served = ctx.status === 405 ? [] : deps.methodsAt(ctx.path);
    const allow = ctx.status === 405 ? ctx.response.get('allow') : served.join(', ');
    // A handler's own bare 404 for a method the path serves stays a 404.
    if (allow && !served.includes(ctx.method)) {
      ctx.set('allow', allow);
      refuse(ctx, 405, `method not allowed: ${ctx.method} ${ctx.path} (allowed: ${allow})`);
      return;
    }
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
