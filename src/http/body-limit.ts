import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type { Refuse } from './refusal.js';
import { AppError } from './app-error.js';

/**
 * Enforces `http.bodyLimitBytes` on every request, whatever reads the body later (oidc-provider,
 * the pages' form parser, the AWS API, the test API):
 * - a declared Content-Length over the limit is refused before anything is read;
 * - a body without one (`Transfer-Encoding: chunked`) is read here, counting bytes, and refused
 *   as soon as it passes the limit; under the limit, the bytes read are handed on as the request
 *   stream, so every reader downstream sees the body as sent.
 * Either way the answer is 413 with `Connection: close` (the rest of the body is never read).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-6.1
 */
export function createBodyLimit(limitBytes: number, refuse: Refuse) {
  const tooLarge = (ctx: Context) => {
    ctx.set('connection', 'close');
    refuse(ctx, 413, `request body exceeds ${limitBytes} bytes`);
  };
  return async function bodyLimit(ctx: Context, next: Next) {
    const declared = ctx.get('content-length');
    if (declared) {
      if (Number(declared) > limitBytes) return tooLarge(ctx);
      return next();
    }
    if (!ctx.get('transfer-encoding')) return next(); // no body (RFC 9112 §6.3)
    const body = await readUpTo(ctx.req, limitBytes);
    if (body === undefined) return tooLarge(ctx);
    replaceRequestStream(ctx, body);
    return next();
  };
}

/** The whole body, or undefined once more than `limit` bytes arrive (the rest is discarded). */
async function readUpTo(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        req.resume(); // discard the rest, so the 413 reaches the client before the connection closes
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // The client aborted or sent malformed chunks: its error, not ours (and nobody may be listening).
    throw new AppError(400, 'invalid_request', 'the request body could not be read', String(err));
  }
  return Buffer.concat(chunks, size);
}

/** What Koa, oidc-provider and the body parsers read from a request besides its stream. */
const REQUEST_FIELDS = [
  'headers',
  'headersDistinct',
  'rawHeaders',
  'trailers',
  'rawTrailers',
  'method',
  'url',
  'httpVersion',
  'httpVersionMajor',
  'httpVersionMinor',
  'socket',
  'complete',
] as const;

/**
 * Hands downstream readers a fresh stream of `body` in place of the consumed request stream:
 * a plain Readable carrying the request's own headers, method, url and socket, so Koa,
 * oidc-provider and the body parsers see the same request, readable once more.
 */
function replaceRequestStream(ctx: Context, body: Buffer): void {
  const original = ctx.req;
  const stream = new Readable({ read() {} });
  if (body.length > 0) stream.push(body);
  stream.push(null);
  for (const field of REQUEST_FIELDS) {
    Object.defineProperty(stream, field, { value: original[field], writable: true, enumerable: true });
  }
  const standIn = stream as unknown as IncomingMessage;
  ctx.req = standIn;
  ctx.request.req = standIn;
  ctx.response.req = standIn;
}
