import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the incoming X-Request-Id when it is sane (so it cannot inject into headers or logs), else a new UUID. */
export function requestIdFor(incoming: string | undefined): string {
  return incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
}

/** `ctx.state` of every request: its id, and its logger made on first use. */
class RequestState {
  #parent: Logger;
  #child: Logger | undefined;
  [key: string]: unknown;
  constructor(
    parent: Logger,
    readonly requestId: string,
  ) {
    this.#parent = parent;
  }
  get log(): Logger {
    return (this.#child ??= this.#parent.child({ requestId: this.requestId }));
  }
}

/**
 * Gives every request an id (a sane incoming X-Request-Id or a new UUID), echoed in the response
 * header, and a child logger carrying it (`ctx.state.log`) so every line about the request has
 * it. Logs one line per request: method, path (never the query, which can carry codes), status,
 * duration.
 *
 * The child logger is made on first use: a pino child with redaction costs more than the rest of
 * this middleware, and at the production level (`warn`) most requests never log a line.
 */
export function createRequestId(logger: Logger) {
  const logsRequests = () => logger.isLevelEnabled('info');
  return async function requestId(ctx: Context, next: Next) {
    const id = requestIdFor(ctx.get('x-request-id'));
    ctx.state = new RequestState(logger, id);
    ctx.set('x-request-id', id);
    if (!logsRequests()) return next();
    const started = performance.now();
    try {
      await next();
    } finally {
      (ctx.state.log as Logger).info(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    }
  };
}
