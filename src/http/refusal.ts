import type { Context } from 'koa';
import type { Views } from './views.js';

/** Answers a refused request (405, 413, …) in the shape of the surface it was sent to. */
export type Refuse = (ctx: Context, status: number, description: string) => void;

/** A surface's path prefix and the writer of its own error shape. */
export interface OwnShape {
  prefix: string;
  send(ctx: Context, status: number, description: string): void;
}

export interface RefusalShapes {
  views: Views;
  /** Surfaces with an error shape of their own (the AWS APIs): each one's path prefix and writer. */
  own?: readonly OwnShape[];
}

/**
 * Builds the one function the host app's early refusals use, so that a 405 or 413 reads like
 * every other error of the surface it was sent to: the AWS API's own shape under its prefix,
 * the error page for callers that prefer HTML (browsers, on the sign-in, device and logout pages),
 * and `{ error: "invalid_request", error_description }` for everyone else.
 */
export function createRefuse(shapes: RefusalShapes): Refuse {
  return (ctx, status, description) => {
    ctx.set('cache-control', 'no-store');
    const own = shapes.own?.find((o) => ctx.path === o.prefix || ctx.path.startsWith(`${o.prefix}/`));
    if (own) {
      own.send(ctx, status, description);
      return;
    }
    // As for 404s: browsers (which ask for text/html) get the page; `*/*` and API clients, JSON.
    if (ctx.accepts('json', 'html') === 'html') {
      shapes.views.render(
        ctx,
        'error',
        {
          title: 'This request could not be completed',
          message: description,
          error: 'invalid_request',
          requestId: ctx.state.requestId,
        },
        status,
      );
      return;
    }
    ctx.status = status;
    ctx.body = { error: 'invalid_request', error_description: description };
  };
}
