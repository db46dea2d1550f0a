import type { Context, Middleware, Next } from 'koa';

/**
 * Runs `middleware` (in order, like `app.use` of each) only for paths at or under `prefix`
 * (`/aws/oidc`, `/aws/oidc/token`, not `/aws/oidcx`); every other request goes straight on. A
 * router's own matching tries every route's pattern (with its debug and host checks) on every
 * request; this keeps that off the token, userinfo and metadata paths that carry most traffic.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- routers' middleware types vary by context
export function underPrefix(prefix: string, ...middleware: Middleware<any, any>[]): Middleware {
  const nested = `${prefix}/`;
  const run = (ctx: Context, next: Next, i: number): Promise<unknown> =>
    i === middleware.length
      ? next()
      : Promise.resolve(middleware[i]!(ctx, () => run(ctx, next, i + 1) as Promise<void>));
  return function scoped(ctx: Context, next: Next) {
    const { path } = ctx;
    return path === prefix || path.startsWith(nested) ? run(ctx, next, 0) : next();
  };
}
