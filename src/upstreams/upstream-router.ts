import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { InteractionResults } from 'oidc-provider';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { Config } from '../config/schema.js';
import type { Views } from '../http/views.js';
import type { Metrics } from '../http/metrics.js';
import type { Store } from '../storage/store.js';
import { AppError } from '../http/app-error.js';
import { isBrowserUpstream } from '../config/upstreams-schema.js';
import { createCsrf } from '../interactions/csrf.js';
import type { UpstreamAccounts } from './upstream-accounts.js';
import type { Upstream } from './oidc-upstream.js';
import { describeUpstreamFailure, type UpstreamFailure } from './upstream-failure.js';
import { pickUpstreamForHints } from './upstream-hints.js';
import { rfc8176Amr } from './rfc8176-amr.js';
import { recordUpstreamLogin, upstreamLoginTtl } from '../accounts/upstream-logins.js';

export interface UpstreamRouterDeps {
  providers: ProviderRef;
  config: Config;
  views: Views;
  store: Store;
  upstreams: ReadonlyMap<string, Upstream>;
  accounts: UpstreamAccounts;
  metrics?: Metrics;
}

/** What is kept between the redirect to the upstream and its callback, under `upstream-state:<state>`. */
interface PendingSignIn {
  uid: string;
  upstreamId: string;
  nonce: string;
  codeVerifier: string;
  outcome?: { accountId: string; amr?: string[] } | { failure: UpstreamFailure };
}

/** A callback whose state was already used (single use: a replayed or double-submitted answer). */
const replayed = (): UpstreamFailure => ({
  reason: 'replayed',
  error: 'access_denied',
  message: 'This sign-in answer was already used. Go back to the application and try again.',
  detail: 'callback replayed',
});

const stateKey = (state: string) => `upstream-state:${state}`;
const usedKey = (state: string) => `upstream-state-used:${state}`;

/**
 * Sign-in through upstream identity providers:
 *
 * - `GET /interaction/:uid` with `upstream_hint` (or a `login_hint` in a domain an upstream
 *   claims) goes straight to the upstream; otherwise the sign-in page is shown as before;
 * - `POST /interaction/:uid/upstream` (the page's "Continue with …" buttons) starts the round trip;
 * - `GET /upstream/:id/callback` checks `state` (single use), redeems the code, validates the ID
 *   token and finds or creates the account, then sends the browser back into its interaction;
 * - `GET /interaction/:uid/upstream-result` finishes the sign-in in the browser that started it
 *   (the interaction cookie proves it), or shows the error page;
 * - `POST /interaction/:uid/upstream-return` sends the error on to the relying party.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
export function createUpstreamRouter(deps: UpstreamRouterDeps): Router {
  const { providers, config, views, store, upstreams } = deps;
  const csrf = createCsrf(config.cookies.keys[0] ?? '');
  const router = new Router();
  const ttl = config.ttl.interaction;
  const form = bodyParser({
    enableTypes: ['form'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    onError: (err) => {
      throw new AppError(400, 'invalid_request', 'The form could not be read.', err.message);
    },
  });
  const details = (ctx: Context) => providers.current.interactionDetails(ctx.req, ctx.res);
  const finish = (ctx: Context, result: InteractionResults) =>
    providers.current
      .interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
      .then(() => {
        ctx.respond = false;
      });
  const log = (ctx: Context) => (ctx.state.log as Logger | undefined)?.child({ audit: true });
  const callbackUri = (id: string) => `${config.issuer}/upstream/${id}/callback`;

  async function begin(ctx: Context, uid: string, upstream: Upstream) {
    let request;
    try {
      request = await upstream.begin(callbackUri(upstream.config.id));
    } catch (err) {
      const failure = describeUpstreamFailure(err, upstream.config.name);
      // Discovery failed: the upstream cannot be reached or answered nonsense.
      const unavailable: UpstreamFailure = {
        ...failure,
        reason: 'unavailable',
        error: 'temporarily_unavailable',
        message: `${upstream.config.name} cannot be reached right now. Try again later.`,
      };
      record(ctx, upstream.config.id, unavailable);
      return renderFailure(ctx, unavailable, uid);
    }
    const pending: PendingSignIn = {
      uid,
      upstreamId: upstream.config.id,
      nonce: request.nonce,
      codeVerifier: request.codeVerifier,
    };
    await store.setRecord(stateKey(request.state), pending, ttl);
    ctx.status = 303;
    ctx.redirect(request.url.href);
  }

  function record(ctx: Context, upstreamId: string, failure: UpstreamFailure | undefined) {
    deps.metrics?.upstreamLogins.inc({
      upstream: upstreamId,
      result: failure ? 'failure' : 'success',
      reason: failure?.reason ?? '',
    });
    if (failure) {
      log(ctx)?.warn(
        {
          event: 'upstream.login.failure',
          upstream: upstreamId,
          reason: failure.reason,
          detail: failure.detail,
        },
        'upstream sign-in failed',
      );
    }
  }

  function renderFailure(ctx: Context, failure: UpstreamFailure, uid?: string) {
    ctx.set('cache-control', 'no-store');
    views.render(
      ctx,
      'upstream-error',
      {
        title: 'You were not signed in',
        message: failure.message,
        error: failure.error,
        requestId: ctx.state.requestId,
        ...(uid
          ? {
              returnAction: `/interaction/${uid}/upstream-return`,
              csrf: csrf.tokenFor(uid),
              returnError: failure.error,
            }
          : {}),
      },
      failure.error === 'temporarily_unavailable' ? 503 : 400,
    );
  }

  router.get('/interaction/:uid', async (ctx, next) => {
    const interaction = await details(ctx);
    const target =
      interaction.uid === ctx.params.uid && interaction.prompt.name === 'login'
        ? pickUpstreamForHints(config.upstreams.filter(isBrowserUpstream), interaction.params)
        : undefined;
    if (!target) return next();
    await begin(ctx, interaction.uid, upstreams.get(target)!);
  });

  /** The interaction a form on its page was posted to, and the form, once its anti-CSRF field checks out. */
  async function postedForm(ctx: Context) {
    const interaction = await details(ctx);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (interaction.uid !== ctx.params.uid || !csrf.verify(interaction.uid, body.csrf)) {
      throw new AppError(
        403,
        'invalid_request',
        'The form has expired or was not sent by this site. Go back and try again.',
        'csrf token missing or wrong',
      );
    }
    return { interaction, body };
  }

  router.post('/interaction/:uid/upstream', form, async (ctx) => {
    const { interaction, body } = await postedForm(ctx);
    if (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'select_account') {
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in step has already been completed.',
        `upstream chosen during ${interaction.prompt.name}`,
      );
    }
    const upstream = typeof body.upstream === 'string' ? upstreams.get(body.upstream) : undefined;
    if (!upstream)
      throw new AppError(400, 'invalid_request', 'There is no such way to sign in.', 'unknown upstream');
    await begin(ctx, interaction.uid, upstream);
  });

  router.get('/upstream/:id/callback', async (ctx) => {
    const upstream = upstreams.get(ctx.params.id!);
    if (!upstream)
      throw new AppError(404, 'invalid_request', 'There is no such way to sign in.', 'unknown upstream');
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    if (state && (await store.getRecord(usedKey(state)))) {
      const failure = replayed();
      record(ctx, upstream.config.id, failure);
      return renderFailure(ctx, failure);
    }
    const pending = state ? await store.getRecord<PendingSignIn>(stateKey(state)) : undefined;
    if (!pending || pending.upstreamId !== upstream.config.id) {
      const failure: UpstreamFailure = {
        reason: 'invalid_state',
        error: 'access_denied',
        message: 'This sign-in has expired or did not start here. Go back to the application and try again.',
        detail: state ? 'unknown state' : 'no state',
      };
      record(ctx, upstream.config.id, failure);
      return renderFailure(ctx, failure);
    }
    if (!(await store.setRecordIfAbsent(usedKey(state), true, ttl))) {
      const failure = replayed();
      record(ctx, upstream.config.id, failure);
      return renderFailure(ctx, failure);
    }
    const callbackUrl = new URL(callbackUri(upstream.config.id));
    callbackUrl.search = ctx.querystring;
    let outcome: PendingSignIn['outcome'];
    try {
      const claims = await upstream.complete(callbackUrl, {
        state,
        nonce: pending.nonce,
        codeVerifier: pending.codeVerifier,
      });
      const account = await deps.accounts.resolve(upstream.config, claims);
      const amr = rfc8176Amr(claims.amr);
      outcome = { accountId: account.sub, ...(amr.length ? { amr } : {}) };
      record(ctx, upstream.config.id, undefined);
      log(ctx)?.info(
        {
          event: 'upstream.login.success',
          upstream: upstream.config.id,
          sub: account.sub,
          created: account.created,
          linked: account.linked,
        },
        'signed in through upstream',
      );
    } catch (err) {
      const failure = describeUpstreamFailure(err, upstream.config.name);
      record(ctx, upstream.config.id, failure);
      outcome = { failure };
    }
    await store.setRecord(stateKey(state), { ...pending, outcome }, ttl);
    ctx.status = 303;
    ctx.redirect(`/interaction/${pending.uid}/upstream-result?state=${encodeURIComponent(state)}`);
  });

  router.get('/interaction/:uid/upstream-result', async (ctx) => {
    const interaction = await details(ctx);
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const pending = state ? await store.getRecord<PendingSignIn>(stateKey(state)) : undefined;
    if (!pending?.outcome || pending.uid !== interaction.uid || interaction.uid !== ctx.params.uid) {
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in did not start in this browser.',
        'upstream result for another interaction',
      );
    }
    await store.deleteRecord(stateKey(state));
    if ('failure' in pending.outcome) return renderFailure(ctx, pending.outcome.failure, interaction.uid);
    const { accountId, amr } = pending.outcome;
    // The login time ties later ID tokens of this sign-in (its codes, refresh tokens) to the upstream: `idp`.
    const loginTs = Math.floor(Date.now() / 1000);
    const idpTtl = upstreamLoginTtl(config.ttl);
    await recordUpstreamLogin(store, { sub: accountId, loginTs, upstreamId: pending.upstreamId }, idpTtl);
    await finish(ctx, {
      select_account: {},
      login: { accountId, ts: loginTs, ...(amr ? { amr } : {}) },
    });
  });

  router.post('/interaction/:uid/upstream-return', form, async (ctx) => {
    const { body } = await postedForm(ctx);
    const error = body.error === 'temporarily_unavailable' ? 'temporarily_unavailable' : 'access_denied';
    await finish(ctx, {
      error,
      error_description:
        error === 'temporarily_unavailable'
          ? 'the upstream identity provider is unavailable'
          : 'the user was not signed in by the upstream identity provider',
    });
  });

  return router;
}
