import { AsyncLocalStorage } from 'node:async_hooks';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { ProviderRef } from './provider-ref.js';

const awsApiRequest = new AsyncLocalStorage<true>();

/**
 * Runs `send` marked as an AWS API request, so the provider middleware can apply the AWS API's
 * rules to it: the device polling interval AWS advertises (device-flow.ts), the case-naming
 * `error_description` of InvalidGrantException (grant-error-details.ts), the retry grace of a
 * redeemed device code (device-code-retry.ts) and AWS's access-token lifetimes
 * (aws-token-lifetime.ts). The mark lives in the async context of the call: no request header,
 * so nothing that reaches the standard endpoints from outside can claim it.
 */
function runAsAwsApiRequest<T>(send: () => Promise<T>): Promise<T> {
  return awsApiRequest.run(true, send);
}

/** Whether the current request is the AWS API's (see createAwsApiRequests). */
export function isAwsApiRequest(): boolean {
  return awsApiRequest.getStore() === true;
}

/** A standard OAuth form request the AWS API makes of one of the provider's endpoints. */
export interface AwsApiRequest {
  /** The provider's route, e.g. `/token`. */
  path: string;
  /** The form parameters; undefined ones are left out. */
  form: Record<string, string | undefined>;
  /** The AWS caller's address: the provider's per-address limits apply to it. */
  ip: string;
  /** Headers besides the form's own (e.g. `authorization` for client_secret_basic). */
  headers?: Record<string, string>;
  /** The AWS request's id and logger, so the provider's audit lines carry that request's id. */
  state?: { requestId?: unknown; log?: Logger };
}

export interface AwsApiResponse {
  status: number;
  /** The provider's JSON answer (its success body or `{ error, error_description }`). */
  body: unknown;
  /** The provider's Retry-After, e.g. on a 429 `slow_down` from the client authentication budgets. */
  retryAfter?: string;
}

/**
 * Serves the AWS API's standard OAuth requests with the provider's own endpoints, in-process
 * and in the AWS request's own turn: no second HTTP request. The request runs through the
 * provider's whole middleware stack, exactly as a request mounted at the issuer does (what
 * koa-mount runs for /token: every `provider.use` middleware — client authentication budgets,
 * polling rules, error details, audit — then the route's own pipeline, whose body parser reads
 * the form as sent), on a Koa context of the provider's own making whose request carries only
 * what is given here: the form, the content type, `accept: application/json`, the issuer's
 * host and protocol, and `headers`. Nothing else from the AWS request (its DPoP, Origin,
 * cookies, forwarding headers) reaches the provider. The host's outer chain (request id,
 * metrics, security headers, body limit) has already run for the AWS request.
 *
 * An error thrown past the provider's own error handlers (a store outage in one of its
 * middleware) reaches the caller as thrown.
 */
export function createAwsApiRequests(providers: ProviderRef, issuer: string) {
  // The provider's composed middleware, rebuilt when the provider is replaced (as mountCurrent).
  let composedFor: Provider | undefined;
  let run: (ctx: never) => Promise<void>;
  const current = () => {
    if (composedFor !== providers.current) {
      composedFor = providers.current;
      // Koa 3's own composition (`app.compose`, not in its type definitions), as its callback() uses.
      const app = composedFor as unknown as {
        compose(middleware: unknown[]): typeof run;
        middleware: unknown[];
      };
      run = app.compose(app.middleware);
    }
    return { provider: composedFor, run };
  };
  const { host, protocol } = new URL(issuer);
  const origin = { host, 'x-forwarded-host': host, 'x-forwarded-proto': protocol.replace(':', '') };

  return async function send(request: AwsApiRequest): Promise<AwsApiResponse> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(request.form)) if (value !== undefined) params.set(key, value);
    const payload = Buffer.from(params.toString());
    const req = buildRequest(request.path, payload, {
      ...request.headers, // first: none of them may change what the form is or where it goes
      ...origin,
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(payload.length),
      accept: 'application/json',
    });
    const res = new ServerResponse(req);
    res.statusCode = 404; // what Koa starts every request with: no route, no answer
    const { provider, run } = current();
    const ctx = provider.createContext(req, res);
    ctx.request.ip = request.ip;
    const state = request.state;
    if (state) {
      // The logger is made on first use (http/request-id.ts): read it only when a line is written.
      ctx.state = {
        requestId: state.requestId,
        get log() {
          return state.log;
        },
      };
    }
    await runAsAwsApiRequest(() => run(ctx as never));
    const retryAfter = ctx.response.get('retry-after');
    return { status: ctx.status, body: ctx.body, ...(retryAfter ? { retryAfter } : {}) };
  };
}

export type SendAwsApiRequest = ReturnType<typeof createAwsApiRequests>;

/**
 * A POST of `payload` to `path`, as Koa and oidc-provider read a request: its stream (the body,
 * read by oidc-provider's own form parser), headers, method, url and HTTP version. No socket:
 * the address is set on the context, the protocol comes from the forwarding headers.
 */
function buildRequest(path: string, payload: Buffer, headers: Record<string, string>): IncomingMessage {
  const stream = new Readable({ read() {} });
  stream.push(payload);
  stream.push(null);
  return Object.assign(stream, {
    headers,
    method: 'POST',
    url: path,
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    complete: true,
    socket: { remoteAddress: undefined, encrypted: false },
  }) as unknown as IncomingMessage;
}
