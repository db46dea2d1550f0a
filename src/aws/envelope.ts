import { STATUS_CODES } from 'node:http';
import type { Context, Next } from 'koa';
import { sendAwsError } from './errors.js';

/** The operations the AWS API serves, named in the answer to a path it does not. */
const OPERATIONS = 'POST /client/register, /device_authorization and /token';

/**
 * Host middleware for everything under the AWS API's prefix (except its browser page,
 * `<prefix>/authorize`, which is the standard /authorize): every answer carries
 * `x-amzn-RequestId` (the request id Gatehouse gives every request, also in `X-Request-Id`;
 * botocore and the AWS SDKs read it into the response metadata's `RequestId`), and every error
 * is in the AWS shape with `x-amzn-ErrorType`, whichever layer answered it: the operations
 * themselves, the refusals in front of them (405 for a method nothing implements, 413 for a body
 * over the limit, 503 while the store is down) and a path nothing serves, which is
 * InvalidRequestException with status 404 (the model's exception for a request the service
 * cannot take; the SDKs raise it by the header whatever the status, so the caller sees the
 * status and a message naming the operations served).
 *
 * Sits outside the error handler, so it sees what that handler rendered.
 */
export function createAwsEnvelope(prefix: string) {
  const nested = `${prefix}/`;
  const page = `${prefix}/authorize`;
  return async function awsEnvelope(ctx: Context, next: Next) {
    const { path, method } = ctx;
    if ((path !== prefix && !path.startsWith(nested)) || path === page) return next();
    const requestId = String(ctx.state.requestId);
    ctx.set('x-amzn-RequestId', requestId);
    try {
      await next();
    } finally {
      if (ctx.status >= 400 && !ctx.response.get('x-amzn-errortype') && !ctx.headerSent) {
        reshapeError(ctx, method, path, prefix);
      }
      if (!ctx.headerSent) ctx.set('x-amzn-RequestId', requestId);
    }
  };
}

/** Rewrites an error some other layer answered into the AWS shape, keeping its status. */
function reshapeError(ctx: Context, method: string, path: string, prefix: string): void {
  const status = ctx.status;
  const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
  let code = status >= 500 ? 'server_error' : 'invalid_request';
  let description = STATUS_CODES[status] ?? 'the request could not be completed';
  if (status === 404) {
    description = `unknown operation: ${method} ${path}; the AWS API serves ${OPERATIONS} under ${prefix}`;
  } else if (body && typeof body === 'object' && !Buffer.isBuffer(body) && typeof body.error === 'string') {
    code = body.error;
    if (typeof body.error_description === 'string') description = body.error_description;
  }
  const retryAfter = ctx.response.get('retry-after');
  sendAwsError(ctx, code, description);
  ctx.status = status;
  if (retryAfter) ctx.set('retry-after', retryAfter);
}
