import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Views } from './views.js';
import { AppError } from './app-error.js';
import { isStoreUnavailable } from '../storage/store-unavailable.js';

interface OidcLikeError extends Error {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  error?: string;
  error_description?: string;
}

/** oidc-provider's wording for errors people see on the sign-in pages, and ours. */
const FRIENDLIER: Record<string, string> = {
  'interaction session id cookie not found':
    'This sign-in page has expired or was opened in another browser. Start again from the application.',
  'interaction session not found': 'This sign-in page has expired. Start again from the application.',
};

/**
 * The top-level error handler for our own routes (oidc-provider renders its own errors).
 * Browsers get the error page, everyone else `{ error, error_description }`. Unknown errors
 * become a masked `server_error`, logged with the request id; nothing internal is sent.
 */
export function createErrorHandler(deps: { views: Views; logger: Logger }) {
  return async function handleErrors(ctx: Context, next: Next) {
    try {
      await next();
    } catch (caught) {
      const err = caught as OidcLikeError;
      let status: number;
      let error: string;
      let description: string;
      if (err instanceof AppError) {
        ({ status } = err);
        error = err.code;
        description = err.userMessage;
        deps.logger.warn(
          { requestId: ctx.state.requestId, code: err.code, detail: err.detail },
          'request refused',
        );
      } else if (isStoreUnavailable(err)) {
        status = 503;
        error = 'temporarily_unavailable';
        description = err.error_description ?? 'the service is temporarily unavailable; try again shortly';
        ctx.set('retry-after', '1');
      } else if (typeof err.error === 'string' && (err.status ?? 500) < 500) {
        // oidc-provider's own error classes thrown from its helpers (e.g. SessionNotFound).
        status = err.status ?? 400;
        error = err.error;
        description =
          FRIENDLIER[err.error_description ?? ''] ??
          err.error_description ??
          'The request could not be completed.';
      } else if (err.expose && (err.status ?? err.statusCode ?? 500) < 500) {
        // Client errors raised by Koa middleware (body too large, bad encoding, …).
        status = err.status ?? err.statusCode ?? 400;
        error = 'invalid_request';
        description = err.message;
      } else {
        status = 500;
        error = 'server_error';
        description = 'An unexpected error occurred.';
        deps.logger.error({ requestId: ctx.state.requestId, err }, 'unhandled error');
      }
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      if (ctx.accepts('json', 'html') === 'html') {
        deps.views.render(
          ctx,
          'error',
          {
            title: status >= 500 ? 'Something went wrong' : 'This request could not be completed',
            message: description,
            error,
            requestId: ctx.state.requestId,
          },
          status,
        );
      } else {
        ctx.body = { error, error_description: description };
      }
    }
  };
}
