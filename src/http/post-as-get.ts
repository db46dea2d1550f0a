import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { AppError } from './app-error.js';

/** The browser endpoints OpenID Connect requires to accept POST as well as GET. */
const POST_AS_GET_PATHS = new Set(['/authorize', '/logout']);

/** The methods `path` is served with, given the provider's: POST added where this module serves it. */
export function withPostAsGet(path: string, methods: string[]): string[] {
  return POST_AS_GET_PATHS.has(path) && methods.length > 0 && !methods.includes('POST')
    ? [...methods, 'POST']
    : methods;
}

/**
 * The longest query the redirect may carry: the GET that follows must fit in Node's 16 KiB of
 * request headers (and in what browsers and proxies accept as a URL) with room for cookies.
 */
const MAX_QUERY_LENGTH = 8192;

/**
 * Accepts form POSTs at `/authorize` and `/logout` by answering `303 See Other` to the same
 * endpoint with the form's parameters as the query, which the browser then requests with GET.
 *
 * Why not oidc-provider's `enableHttpPostMethods`: it demands `SameSite=None` on the session
 * cookie, because a cross-site form POST carries no `SameSite=Lax` cookie, so the endpoint
 * would never see the user's session. `SameSite=None` would send the session cookie with every
 * cross-site request (and needs `Secure`, which a loopback http issuer cannot set). The redirect
 * keeps `Lax`: the GET that follows a 303 is a top-level navigation with a safe method, which
 * carries `Lax` cookies even when the POST came from another site, so an existing session is
 * seen, `prompt=none` works, and without a session the user simply signs in. A POST adds
 * nothing an attacker cannot already do with a link, since GET is accepted anyway.
 *
 * Only the form body is read (OpenID Connect Core §3.1.2.1: "serialized using Form
 * Serialization"); a query string on the POST itself is ignored. The `Location` is the relative
 * reference `?<query>`, which resolves against the requested URL whatever prefix a reverse
 * proxy or the AWS path (`/aws/oidc/authorize`) put in front of it. Parameters longer than
 * 8 KiB as a query are refused with 413, as the GET could not carry them.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.4.4
 */
export function createPostAsGet(bodyLimitBytes: number) {
  const form = bodyParser({
    enableTypes: ['form'],
    formLimit: `${bodyLimitBytes}b`,
    // An unreadable body (too large, corrupt encoding, cut short) is the client's error.
    onError: (err) => {
      const status = (err as { status?: number }).status;
      throw new AppError(
        status && status >= 400 && status < 500 ? status : 400,
        'invalid_request',
        'The request could not be read.',
        err.message,
      );
    },
  });

  return async function postAsGet(ctx: Context, next: Next) {
    if (ctx.method !== 'POST' || !POST_AS_GET_PATHS.has(ctx.path)) return next();
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw new AppError(
        400,
        'invalid_request',
        'The request was not valid.',
        `POST ${ctx.path} needs an application/x-www-form-urlencoded body`,
      );
    }
    await form(ctx, async () => undefined);
    const posted = ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(posted)) {
      // A repeated parameter stays repeated, so oidc-provider refuses it as it would in a GET.
      for (const one of Array.isArray(value) ? value : [value]) {
        if (typeof one === 'string') query.append(name, one);
      }
    }
    const location = `?${query.toString()}`;
    if (location.length > MAX_QUERY_LENGTH) {
      throw new AppError(
        413,
        'invalid_request',
        'The request is too large.',
        `POST ${ctx.path} parameters exceed ${MAX_QUERY_LENGTH} bytes as a query`,
      );
    }
    ctx.set('cache-control', 'no-store');
    ctx.status = 303;
    ctx.set('location', location);
    ctx.body = '';
  };
}
