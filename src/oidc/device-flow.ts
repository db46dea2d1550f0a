import { createHash } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { Views } from '../http/views.js';
import {
  formAction,
  hiddenFieldValue,
  interceptDeviceCodeRedemption,
  USER_CODE_ERRORS,
} from './internals.js';
import { isAwsApiRequest } from './aws-api-requests.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests". */
const SLOW_DOWN_SECONDS = 5;

/**
 * Polls of one device code through the AWS API that never count as too soon. botocore
 * (SSOTokenFetcher._poll_for_token in the AWS CLI v2) calls CreateToken once before it prints
 * the prompt and once more as its loop starts, without waiting; only then does it sleep the
 * interval between polls. AWS does not slow that pair down.
 */
const AWS_FREE_POLLS = 2;

/**
 * The device authorization grant's behaviour that oidc-provider leaves to us:
 * the `interval` in the device authorization response, `slow_down` with a 5 s longer interval
 * for clients that poll too fast, and a limit on wrong user-code entries per client IP.
 * Requests from the AWS API (aws-api-requests.ts) follow AWS's rules instead: the interval is
 * `aws.deviceIntervalSeconds` and the first two polls of a device code are never too soon;
 * the standard endpoints keep `deviceFlow.interval` and count from the second poll.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.1
 */
/** Where a poll recorded before the grant's lookup is kept for the answer (see pollBeforeFind). */
const POLLED = Symbol('polledDeviceCode');
type PolledCtx = KoaContextWithOIDC & { [POLLED]?: { tooSoon: boolean; interval: number } };

export function createDeviceFlow(deps: { config: Config; store: Store; views: Views }) {
  const { config, store, views } = deps;
  const attempts = store.createRateLimiter({
    keyPrefix: 'user-code',
    points: config.deviceFlow.userCodeAttemptsPerMinute,
    duration: 60,
  });
  // Reads the code entry form on the 429 page only (oidc-provider reads it otherwise).
  const readEntryForm = bodyParser({
    enableTypes: ['form'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    onError: () => undefined, // an unreadable form is answered with empty fields
  });
  const pollKey = (deviceCode: string) =>
    `device-poll:${createHash('sha256').update(deviceCode).digest('base64url')}`;

  /** Provider middleware: adds `interval`, answers `slow_down`, limits user-code guesses. */
  async function middleware(ctx: KoaContextWithOIDC, next: Next) {
    if (ctx.method === 'POST' && ctx.path === '/device') {
      const state = await attempts.get(ctx.ip);
      if (state && state.remainingPoints <= 0) {
        const retryAfter = Math.ceil(state.msBeforeNext / 1000);
        // The page's form must still work after the wait: oidc-provider keeps the session's form
        // secret until a code is accepted, so the posted xsrf (and the code typed) go back in it.
        await readEntryForm(ctx as unknown as Context, async () => undefined);
        const posted = ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
        const field = (name: string) => (typeof posted[name] === 'string' ? posted[name].slice(0, 256) : '');
        ctx.set('retry-after', String(retryAfter));
        views.render(
          ctx as unknown as Context,
          'device-input',
          {
            title: 'Too many attempts',
            error: `Too many incorrect codes. Wait ${retryAfter} seconds, then try again.`,
            action: '/device',
            xsrf: field('xsrf'),
            userCode: field('user_code'),
            digits: config.deviceFlow.userCodeCharset === 'digits',
          },
          429,
        );
        return;
      }
    }

    await next();

    const route = ctx.oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && isRecord(ctx.body)) {
      // The first poll starts the polling state (store.recordPoll), so nothing is stored here.
      ctx.body.interval = pollingRules().interval;
    } else if (route === 'token' && isRecord(ctx.body) && ctx.body.error === 'authorization_pending') {
      const deviceCode = ctx.oidc.params?.device_code;
      if (ctx.oidc.params?.grant_type !== DEVICE_CODE_GRANT || typeof deviceCode !== 'string') return;
      const polled = (ctx as PolledCtx)[POLLED];
      if (polled) answerSlowDown(ctx, polled);
      else await applySlowDown(ctx, pollKey(deviceCode));
    }
  }

  /**
   * Grant hook (before the library reads the device code, after client authentication): reads
   * the code and, when it is pending for this client, records the poll, in one store step; the
   * library's read then uses the record just read (Store.pollDeviceCode).
   */
  async function pollBeforeFind(ctx: KoaContextWithOIDC, deviceCode: string) {
    const clientId = ctx.oidc.client?.clientId;
    if (clientId === undefined) return;
    const rules = pollingRules();
    const polled = await store.pollDeviceCode(deviceCode, {
      clientId,
      key: pollKey(deviceCode),
      now: Date.now(),
      intervalSeconds: rules.interval,
      slowDownSeconds: SLOW_DOWN_SECONDS,
      ttlSeconds: config.ttl.deviceCode + 600,
      freePolls: rules.freePolls,
    });
    if (polled) (ctx as PolledCtx)[POLLED] = polled;
  }

  function answerSlowDown(
    ctx: KoaContextWithOIDC,
    { tooSoon, interval }: { tooSoon: boolean; interval: number },
  ) {
    if (!tooSoon) return;
    ctx.body = {
      error: 'slow_down',
      error_description: `polling too frequently; wait at least ${interval} seconds between requests`,
    };
  }

  /** The interval, and the polls that never count as too soon, of the request being served. */
  function pollingRules(): { interval: number; freePolls: number } {
    return isAwsApiRequest()
      ? { interval: config.aws.deviceIntervalSeconds, freePolls: AWS_FREE_POLLS }
      : { interval: config.deviceFlow.interval, freePolls: 1 };
  }

  async function applySlowDown(ctx: KoaContextWithOIDC, key: string) {
    const rules = pollingRules();
    // One atomic step per poll: concurrent polls of one code cannot both pass as "not too soon".
    answerSlowDown(
      ctx,
      await store.recordPoll(
        key,
        Date.now(),
        rules.interval,
        SLOW_DOWN_SECONDS,
        config.ttl.deviceCode + 600,
        rules.freePolls,
      ),
    );
  }

  /** Page sources for oidc-provider's features.deviceFlow, rendered from views/. */
  const pages = {
    async userCodeInputSource(
      ctx: KoaContextWithOIDC,
      form: string,
      _out?: unknown,
      err?: Error & { userCode?: string },
    ) {
      if (err?.name === 'NotFoundError' && ctx.method === 'POST') {
        // Only wrong codes count: they are what guessing looks like.
        await attempts.penalty(ctx.ip);
      }
      const known = err?.name as keyof typeof USER_CODE_ERRORS | undefined;
      const error = err
        ? (known && USER_CODE_ERRORS[known]) ||
          ((err as { status?: number }).status === 503
            ? 'The service is temporarily unavailable. Try again in a moment.'
            : 'There was a problem with that code. Try again.')
        : undefined;
      const prefill = (ctx.state as { prefillUserCode?: string }).prefillUserCode;
      views.render(
        ctx as unknown as Context,
        'device-input',
        {
          title: 'Connect a device',
          error,
          action: formAction(form, '/device'),
          xsrf: hiddenFieldValue(form, 'xsrf'),
          userCode: err?.userCode ?? prefill ?? '',
          digits: config.deviceFlow.userCodeCharset === 'digits',
        },
        pageStatus(err),
      );
    },
    /**
     * The code entry form sends `confirm=yes`, so a right code goes straight on to sign-in and the
     * device approval page (device-approval.ts). This page is reached only by a form without it
     * (one saved from an older version, or a script): the entry page again, the code filled in.
     */
    async userCodeConfirmSource(
      ctx: KoaContextWithOIDC,
      form: string,
      _client: Client,
      _deviceInfo: unknown,
      userCode: string,
    ) {
      views.render(ctx as unknown as Context, 'device-input', {
        title: 'Connect a device',
        action: formAction(form, '/device'),
        xsrf: hiddenFieldValue(form, 'xsrf'),
        userCode,
        digits: config.deviceFlow.userCodeCharset === 'digits',
      });
    },
    async successSource(ctx: KoaContextWithOIDC) {
      views.render(ctx as unknown as Context, 'device-success', {
        title: 'Device connected',
        clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
      });
    },
  };

  /**
   * Host middleware for GET /device?user_code=…: oidc-provider would auto-submit the code with
   * a script; instead we show the entry page pre-filled, so the user confirms the code they see
   * (RFC 8628 §5.4) and the page works without JavaScript.
   */
  async function prefillUserCode(ctx: Context, next: Next) {
    if (ctx.method === 'GET' && ctx.path === '/device' && typeof ctx.query.user_code === 'string') {
      (ctx.state as { prefillUserCode?: string }).prefillUserCode = ctx.query.user_code.slice(0, 64);
      ctx.querystring = '';
    }
    await next();
  }

  /** Registers the poll step in the provider's device_code grant (call once the provider exists). */
  const interceptPolls = (provider: Provider) =>
    interceptDeviceCodeRedemption(provider, { beforeFind: pollBeforeFind });

  return { middleware, pages, prefillUserCode, interceptPolls };
}

/**
 * Provider middleware: the code entry form (POST /device) and the return from sign-in
 * (GET /device/<uid>) belong to the browser session that GET /device opens. Without one (no
 * session cookie, or one with a bad signature) oidc-provider would answer with a 500: its error
 * page puts a new form secret in a session it never stored, and then fails to save it
 * ("persist can only be called on previously persisted Sessions"). Send the browser to the
 * entry page instead, which opens a session.
 */
export function requireDeviceSession(sessionCookie: string) {
  return async function deviceSession(ctx: Context, next: Next) {
    const entry = ctx.method === 'POST' && ctx.path === '/device';
    const resume = (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path.startsWith('/device/');
    if ((entry || resume) && !ctx.cookies.get(sessionCookie, { signed: true })) {
      ctx.set('cache-control', 'no-store');
      ctx.status = 303;
      ctx.redirect('/device');
      return;
    }
    await next();
  };
}

/** 503 while the store is down, 400 for a bad code, 200 otherwise. */
function pageStatus(err: (Error & { status?: number }) | undefined): number {
  if (!err || err.name === 'AbortedError') return 200;
  return err.status && err.status >= 500 ? err.status : 400;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Buffer.isBuffer(value);
}
