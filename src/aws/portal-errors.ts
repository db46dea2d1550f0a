import type { Context } from 'koa';

/**
 * The exceptions of the AWS access portal API (service `sso`, model `sso-2019-06-10`) with the
 * model's HTTP status, plus three answers outside the model that the SDKs understand from the
 * status alone: an unknown operation (404), an internal fault (500) and an unreachable store
 * (503 with Retry-After; both are retried by the SDKs).
 */
export const PORTAL_EXCEPTIONS = {
  InvalidRequestException: 400,
  UnauthorizedException: 401,
  ResourceNotFoundException: 404,
  TooManyRequestsException: 429,
  UnknownOperationException: 404,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
} as const satisfies Record<string, number>;

export type PortalException = keyof typeof PORTAL_EXCEPTIONS;

/** An error to answer in the portal's shape. */
export class PortalError extends Error {
  override name = 'PortalError';
  constructor(
    readonly exception: PortalException,
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * Writes a portal error as AWS does for a rest-json service: the model's status,
 * `x-amzn-ErrorType` naming the exception (botocore and the JS SDK pick the exception class from
 * it) and a JSON body `{ "message" }`, the only member the model's exceptions have.
 */
export function sendPortalError(ctx: Context, exception: PortalException, message: string): void {
  ctx.status = PORTAL_EXCEPTIONS[exception];
  ctx.set('x-amzn-errortype', exception);
  ctx.set('cache-control', 'no-store');
  ctx.body = { message };
}
