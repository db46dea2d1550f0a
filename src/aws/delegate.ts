import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { createAwsApiRequests } from '../oidc/aws-api-requests.js';
import { AwsApiError } from './errors.js';

/** Who makes the AWS request: its address and its request state (id, logger). */
export type Caller = Pick<Context, 'ip' | 'state'>;

export interface DelegateResult {
  status: number;
  body: Record<string, unknown>;
  /** The provider's Retry-After, e.g. on a 429 `slow_down` from the client authentication budgets. */
  retryAfter?: string;
}

/**
 * Hands a standard OAuth form request to the provider's own endpoint, in-process
 * (oidc/aws-api-requests.ts: no second HTTP request): the AWS API translates, the provider's
 * own endpoints do the work (grants, codes, device state, limits), and the result is
 * translated back. The request runs marked as the AWS API's, so the provider applies the AWS
 * API's rules to it, from the AWS caller's address, with the AWS request's id in its audit lines.
 */
export function createDelegate(providers: ProviderRef, issuer: string) {
  const send = createAwsApiRequests(providers, issuer);
  return async function postForm(
    path: string,
    form: Record<string, string | undefined>,
    caller: Caller,
    headers: Record<string, string> = {},
  ): Promise<DelegateResult> {
    const state = caller.state as { requestId?: unknown; log?: Logger };
    const res = await send({ path, form, ip: caller.ip, headers, state });
    if (!res.body || typeof res.body !== 'object' || Buffer.isBuffer(res.body)) {
      throw new AwsApiError('server_error', 'unexpected response from the token service');
    }
    const body = res.body as Record<string, unknown>;
    return { status: res.status, body, ...(res.retryAfter ? { retryAfter: res.retryAfter } : {}) };
  };
}

export type Delegate = ReturnType<typeof createDelegate>;

/** Throws the provider's OAuth error as an AWS error, or returns the successful body. */
export function unwrap(result: DelegateResult): Record<string, unknown> {
  if (result.status >= 200 && result.status < 300 && !result.body.error) return result.body;
  const code = typeof result.body.error === 'string' ? result.body.error : 'server_error';
  const description =
    typeof result.body.error_description === 'string' ? result.body.error_description : code;
  throw new AwsApiError(code, description, result.retryAfter);
}
