import { inject, type Response } from 'light-my-request';
import type Provider from 'oidc-provider';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { runAsAwsApiRequest } from '../oidc/aws-api-requests.js';
import { AwsApiError } from './errors.js';

export interface DelegateResult {
  status: number;
  body: Record<string, unknown>;
  /** The provider's Retry-After, e.g. on a 429 `slow_down` from the client authentication budgets. */
  retryAfter?: string;
}

/**
 * Sends a standard OAuth form request to oidc-provider in-process, as if it had come to the
 * issuer: the AWS API translates, the provider's own endpoints do the work (grants, codes,
 * device state, limits), and the result is translated back. The request runs marked as the
 * AWS API's (oidc/aws-api-requests.ts), so the provider applies the AWS API's rules to it.
 */
export function createDelegate(providers: ProviderRef, issuer: string) {
  // The request handler of the provider in use, rebuilt when the provider is replaced.
  let handlerOf: Provider | undefined;
  let handler: ReturnType<Provider['callback']>;
  const currentHandler = () => {
    if (handlerOf !== providers.current) {
      handlerOf = providers.current;
      handler = handlerOf.callback();
    }
    return handler;
  };
  const { host, protocol } = new URL(issuer);
  return async function postForm(
    path: string,
    form: Record<string, string | undefined>,
    remoteAddress: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<DelegateResult> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) if (value !== undefined) params.set(key, value);
    const handler = currentHandler() as Parameters<typeof inject>[0];
    // The callback form starts the request at once, inside the marked context (the promise
    // form would start it when awaited, outside).
    const res = await runAsAwsApiRequest(
      () =>
        new Promise<Response>((resolve, reject) =>
          inject(
            handler,
            {
              method: 'POST',
              url: path,
              remoteAddress,
              headers: {
                host,
                'x-forwarded-host': host,
                'x-forwarded-proto': protocol.replace(':', ''),
                'content-type': 'application/x-www-form-urlencoded',
                accept: 'application/json',
                ...extraHeaders,
              },
              payload: params.toString(),
            },
            (err, response) =>
              err || !response ? reject(err ?? new Error('no response')) : resolve(response),
          ),
        ),
    );
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(res.payload) as Record<string, unknown>;
    } catch {
      throw new AwsApiError('server_error', 'unexpected response from the token service');
    }
    const retryAfter = res.headers['retry-after'];
    return { status: res.statusCode, body, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) };
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
