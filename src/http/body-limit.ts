import type { Context, Next } from 'koa';

/** Refuses a declared body larger than the limit before anything reads it (RFC 9110 §15.5.14). */
export function createBodyLimit(limitBytes: number) {
  return function bodyLimit(ctx: Context, next: Next) {
    const length = Number(ctx.get('content-length') || 0);
    if (length > limitBytes) {
      ctx.status = 413;
      ctx.set('connection', 'close');
      ctx.body = { error: 'invalid_request', error_description: `request body exceeds ${limitBytes} bytes` };
      return Promise.resolve();
    }
    return next();
  };
}
