import type { Context } from 'koa';

/**
 * The one table from OAuth error codes to the AWS SSO OIDC exceptions of the service model
 * (aws-sso-oidc-2019-06-10.service-2.json), with the model's HTTP status for each.
 */
export const AWS_EXCEPTIONS = {
  invalid_request: { name: 'InvalidRequestException', status: 400 },
  invalid_client: { name: 'InvalidClientException', status: 401 },
  invalid_grant: { name: 'InvalidGrantException', status: 400 },
  unauthorized_client: { name: 'UnauthorizedClientException', status: 400 },
  unsupported_grant_type: { name: 'UnsupportedGrantTypeException', status: 400 },
  invalid_scope: { name: 'InvalidScopeException', status: 400 },
  authorization_pending: { name: 'AuthorizationPendingException', status: 400 },
  slow_down: { name: 'SlowDownException', status: 400 },
  access_denied: { name: 'AccessDeniedException', status: 400 },
  expired_token: { name: 'ExpiredTokenException', status: 400 },
  invalid_client_metadata: { name: 'InvalidClientMetadataException', status: 400 },
  invalid_redirect_uri: { name: 'InvalidRedirectUriException', status: 400 },
  server_error: { name: 'InternalServerException', status: 500 },
  temporarily_unavailable: { name: 'InternalServerException', status: 500 },
} as const satisfies Record<string, { name: string; status: number }>;

export type AwsErrorCode = keyof typeof AWS_EXCEPTIONS;

/** OAuth codes without an exception of their own in the model, and the one they become. */
const FALLBACKS: Record<string, AwsErrorCode> = {
  invalid_target: 'invalid_scope',
  invalid_token: 'invalid_grant',
  unsupported_response_type: 'invalid_request',
  invalid_dpop_proof: 'invalid_request',
};

/** An error to answer in the AWS shape; `code` is the OAuth error code. */
export class AwsApiError extends Error {
  override name = 'AwsApiError';
  constructor(
    readonly code: string,
    readonly description: string,
    /** Sent as `Retry-After` (e.g. with SlowDownException). */
    readonly retryAfter?: string,
  ) {
    // An answer, not a fault (every pending device poll is one): capturing a stack trace costs
    // more than the rest of the request's own work, and it is never logged or shown.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(description);
    Error.stackTraceLimit = limit;
  }
}

/** Resolves an OAuth error code to the model's exception and status. */
export function awsExceptionFor(code: string): { name: string; status: number; error: string } {
  const known = (code in AWS_EXCEPTIONS ? code : FALLBACKS[code]) as AwsErrorCode | undefined;
  if (known) return { ...AWS_EXCEPTIONS[known], error: code };
  return { ...AWS_EXCEPTIONS.server_error, error: 'server_error' };
}

/**
 * Writes an AWS-shaped error: the model's status, `x-amzn-ErrorType` naming the exception (the
 * header the AWS SDKs and botocore read to choose the exception class) and a JSON body
 * `{ error, error_description, message }`.
 */
export function sendAwsError(ctx: Context, code: string, description: string): void {
  const exception = awsExceptionFor(code);
  ctx.status = exception.status;
  ctx.set('x-amzn-errortype', exception.name);
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: exception.error, error_description: description, message: description };
}
