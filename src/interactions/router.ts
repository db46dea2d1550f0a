import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { InteractionResults } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { Config } from '../config/schema.js';
import type { Views } from '../http/views.js';
import { AppError } from '../http/app-error.js';
import { createCsrf } from './csrf.js';
import { describeScopes } from './scope-descriptions.js';
import { asksOnlyForConsentedClaims, grantConsent } from './grant-consent.js';
import { renderDeviceApproval } from './device-approval-page.js';
import type { Logger } from 'pino';
import { budgetKey, type Budget, type RateLimits } from '../http/rate-limits.js';
import type { Metrics } from '../http/metrics.js';
import { isUnverifiedClient } from '../oidc/registered-clients.js';
import { willIssueRefreshToken } from '../oidc/refresh-token-policy.js';
import type { Store } from '../storage/store.js';
import { configuredTotpSecrets, createFactors } from '../mfa/factors.js';
import { createSecondFactorStep } from './second-factor.js';
import { ACCOUNT_CLIENT_ID } from '../oidc/account-client.js';
import { requiresMfa } from '../oidc/client-rights.js';
import { takeNextLoginAuth, type NextLoginAuth } from '../test-mode/next-login-auth.js';
import { recordUpstreamLogin, upstreamLoginTtl } from '../accounts/upstream-logins.js';
import { createStepUp, type AskForPasskey } from './step-up.js';
import { createFactorAvailability } from '../mfa/factor-availability.js';
import { acrForSession, demandedAcr } from '../mfa/acr.js';

export interface InteractionDeps {
  providers: ProviderRef;
  accounts: AccountStore;
  views: Views;
  config: Config;
  rateLimits: RateLimits;
  store: Store;
  metrics?: Metrics;
  /** Passkey seam 2 (src/interactions/step-up.ts): asks for a passkey during a step-up. */
  askForPasskey?: AskForPasskey;
}

const LOGIN_FAILED = 'Incorrect username or password.';

/**
 * The login, consent and abort pages behind oidc-provider's interactions.
 * Successful POSTs end in oidc-provider's 303 redirect back to the authorization flow.
 *
 * @see https://github.com/panva/node-oidc-provider/blob/main/example/routes/koa.js
 */
export function createInteractionRouter(deps: InteractionDeps): Router {
  const { providers, accounts, views, config, rateLimits } = deps;
  const csrf = createCsrf(config.cookies.keys[0] ?? '');
  const testMode = config.mode === 'test';
  const router = new Router({ prefix: '/interaction' });
  const form = bodyParser({
    enableTypes: ['form'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    // A body that cannot be read (too large, an unsupported or corrupt Content-Encoding, cut
    // short) is the client's error; the parser's own errors would otherwise become a 500.
    onError: (err) => {
      const status = (err as { status?: number }).status;
      throw new AppError(
        status && status >= 400 && status < 500 ? status : 400,
        'invalid_request',
        'The form could not be read.',
        err.message,
      );
    },
  });

  router.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });

  const secondFactor = createSecondFactorStep({
    store: deps.store,
    factors: createFactors(deps.store, configuredTotpSecrets(config.users)),
    views,
    rateLimits,
    ttlSeconds: config.ttl.interaction,
    issuer: config.issuer,
    csrfFor: (uid) => csrf.tokenFor(uid),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });

  const stepUp = createStepUp({
    config,
    store: deps.store,
    providers,
    availability: createFactorAvailability(deps.store, config.users),
    secondFactor,
    ...(deps.askForPasskey ? { askForPasskey: deps.askForPasskey } : {}),
  });

  const details = (ctx: Context) => providers.current.interactionDetails(ctx.req, ctx.res);
  const finish = (ctx: Context, result: InteractionResults, merge: boolean) =>
    providers.current
      .interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge })
      .then(() => {
        ctx.respond = false;
      });

  function requireCsrf(ctx: Context, uid: string) {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!csrf.verify(uid, body?.csrf)) {
      throw new AppError(
        403,
        'invalid_request',
        'The form has expired or was not sent by this site. Go back and try again.',
        'csrf token missing or wrong',
      );
    }
  }

  /**
   * The client as the pages show it: its name, and whether anyone could have registered it (an
   * AWS RegisterClient registration, or one at /register without a trusted initial access
   * token), in which case the pages say its name is unverified.
   */
  async function describeClient(clientId: unknown) {
    const client = typeof clientId === 'string' ? await providers.current.Client.find(clientId) : undefined;
    return {
      client,
      clientName: client?.clientName ?? (typeof clientId === 'string' ? clientId : 'the application'),
      unverifiedClient: isUnverifiedClient(client),
    };
  }

  function renderLogin(
    ctx: Context,
    uid: string,
    data: {
      clientName: string;
      unverifiedClient: boolean;
      username: string;
      error?: string;
      title?: string;
      claims?: string;
    },
    status?: number,
  ) {
    views.render(
      ctx,
      'login',
      {
        title: data.title ?? 'Sign in',
        action: `/interaction/${uid}/login`,
        abortAction: `/interaction/${uid}/abort`,
        csrf: csrf.tokenFor(uid),
        testMode,
        // "Continue with <name>" buttons (src/upstreams/upstream-router.ts handles their form).
        upstreams: config.upstreams.filter((u) => u.type !== 'ldap').map(({ id, name }) => ({ id, name })),
        upstreamAction: `/interaction/${uid}/upstream`,
        ...data,
      },
      status,
    );
  }

  router.get('/:uid', async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.uid !== ctx.params.uid)
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in link does not match your session.',
        'uid mismatch',
      );
    const { prompt, params, session } = interaction;
    if (testMode && (await completeNonInteractively(ctx, interaction))) return;
    const { client, clientName, unverifiedClient } = await describeClient(params.client_id);

    if (prompt.name === 'login' || prompt.name === 'select_account') {
      const current = session?.accountId ? await accounts.findBySub(session.accountId) : undefined;
      // Step-up for a known user: just the missing factor (step-up.ts).
      const page = { clientName, accountName: current?.username ?? session?.accountId ?? '' };
      if (current && (await stepUp.askMissingFactor(ctx, interaction, page))) return;
      const hint = typeof params.login_hint === 'string' ? params.login_hint : undefined;
      renderLogin(ctx, interaction.uid, {
        clientName,
        unverifiedClient,
        username: hint ?? current?.username ?? '',
        title: prompt.name === 'select_account' ? 'Choose an account' : 'Sign in',
      });
      return;
    }
    // The account page is Gatehouse itself: nothing to consent to.
    const firstParty = params.client_id === ACCOUNT_CLIENT_ID;
    if (!interaction.deviceCode && (firstParty || asksOnlyForConsentedClaims(interaction))) {
      await finish(ctx, await grantConsent(providers.current, interaction, config.claims), true);
      return;
    }
    if (prompt.name === 'consent') {
      const account = session?.accountId ? await accounts.findBySub(session.accountId) : undefined;
      if (interaction.deviceCode) {
        await renderDeviceApproval(
          ctx,
          { provider: providers.current, views, userCodeMask: config.deviceFlow.userCodeMask },
          {
            uid: interaction.uid,
            deviceCodeId: interaction.deviceCode,
            csrf: csrf.tokenFor(interaction.uid),
            client,
            clientName,
            unverifiedClient,
            accountName: typeof account?.claims.name === 'string' ? account.claims.name : account?.username,
          },
        );
        return;
      }
      const missing = prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const scope = typeof params.scope === 'string' ? params.scope.split(' ') : [];
      views.render(ctx, 'consent', {
        title: 'Allow access?',
        clientName,
        unverifiedClient,
        keepsAccess: !!client && willIssueRefreshToken(client, new Set(scope)),
        scopes: describeScopes([
          ...(missing.missingOIDCScope ?? []),
          ...Object.values(missing.missingResourceScopes ?? {}).flat(),
        ]),
        accountName: account?.claims.name ?? account?.username,
        action: `/interaction/${interaction.uid}/confirm`,
        abortAction: `/interaction/${interaction.uid}/abort`,
        csrf: csrf.tokenFor(interaction.uid),
      });
      return;
    }
    throw new AppError(
      400,
      'invalid_request',
      'This sign-in step is not supported.',
      `unknown prompt ${prompt.name}`,
    );
  });

  router.post('/:uid/login', form, async (ctx) => {
    const interaction = await details(ctx);
    requireCsrf(ctx, interaction.uid);
    if (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'select_account') {
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in step has already been completed.',
        `login posted during ${interaction.prompt.name}`,
      );
    }
    const body = ctx.request.body as Record<string, unknown>;
    const username = typeof body.username === 'string' ? body.username.slice(0, 256) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const claimsText = typeof body.claims === 'string' ? body.claims.trim() : '';
    const claims = testMode && claimsText ? parseClaims(claimsText) : undefined;
    const refuse = async (error: string, status: number) => {
      const { clientName, unverifiedClient } = await describeClient(interaction.params.client_id);
      const data = { clientName, unverifiedClient, username, error, claims: claimsText };
      renderLogin(ctx, interaction.uid, data, status);
    };
    if (claims === null) return refuse('Claims must be a JSON object, e.g. {"email": "a@example.com"}.', 400);
    // Budgets (README "Rate limits"): per (username, IP) and per IP block hard; per username
    // across every address only slows attempts down, so a guesser elsewhere cannot lock the
    // rightful user out. Usernames count whether they exist or not, so refusals reveal nothing.
    const userKey = username.trim().toLowerCase();
    const budgets: Budget[] = userKey
      ? [
          ['loginPerIp', ctx.ip],
          ['loginPerUsernameAndIp', budgetKey(userKey, ctx.ip)],
          ['loginPerUsername', userKey],
        ]
      : [['loginPerIp', ctx.ip]];
    const wait = await rateLimits.retryAfterAny(budgets);
    if (wait > 0) {
      ctx.set('retry-after', String(wait));
      return refuse(`Too many sign-in attempts. Try again in ${formatWait(wait)}.`, 429);
    }
    const account =
      username && (password || testMode)
        ? await accounts.authenticate(username, password, claims ? { claims } : undefined)
        : undefined;
    const log = (ctx.state.log as Logger | undefined)?.child({ audit: true });
    if (!account) {
      deps.metrics?.logins.inc({ result: 'failure' });
      log?.warn(
        { event: 'login.failure', username: username.slice(0, 64), clientId: interaction.params.client_id },
        'sign-in failed',
      );
      await rateLimits.recordFailures(budgets);
      return refuse(LOGIN_FAILED, 401);
    }
    deps.metrics?.logins.inc({ result: 'success' });
    log?.info(
      { event: 'login.success', sub: account.claims.sub, clientId: interaction.params.client_id },
      'signed in',
    );
    // Only this address's budget: the one across addresses keeps counting others' guesses.
    if (userKey) await rateLimits.reset('loginPerUsernameAndIp', budgetKey(userKey, ctx.ip));
    const queued = testMode ? await takeNextLoginAuth(deps.store, username) : undefined;
    const upstreamId = account.upstreamId;
    if (queued) return completeLogin(ctx, interaction, account.claims.sub, ['test'], { queued, upstreamId });
    const amr = [testMode ? 'test' : 'pwd'];
    const { client, clientName } = await describeClient(interaction.params.client_id);
    const signIn = { sub: account.claims.sub, amr, clientName, ...(upstreamId ? { upstreamId } : {}) };
    // acr_values / an essential acr claim (step-up.ts): refuse what cannot be met, enrol when essential.
    const plan = await stepUp.afterFirstFactor(ctx, interaction.uid, interaction.params, signIn);
    if (plan === 'asked') return;
    if (plan === 'deny') {
      return finish(
        ctx,
        {
          error: 'access_denied',
          error_description: 'the requested authentication context could not be met',
        },
        false,
      );
    }
    const required = {
      mfa: (!testMode && requiresMfa(client, config.mfa.policy)) || plan === 'enrol-otp',
      account: account.username,
    };
    if (await secondFactor.begin(ctx, interaction.uid, signIn, required)) return;
    await completeLogin(ctx, interaction, account.claims.sub, amr, { upstreamId });
  });

  /**
   * Ends the login prompt as `accountId` with these `amr` values and the `acr` they meet (the
   * first requested one, else the highest: src/mfa/acr.ts; each authorization recomputes it, see
   * src/oidc/acr-policy.ts); in test mode `queued` (the test API's next-login-auth) says instead
   * what happened, its `acr` winning. With
   * `upstreamId` (the directory that checked the password), the sign-in is recorded under its
   * login time so that ID tokens of it carry `idp`, as for the upstreams' own pages.
   */
  async function completeLogin(
    ctx: Context,
    interaction: { params: Record<string, unknown> },
    accountId: string,
    amr: string[],
    options: { queued?: NextLoginAuth | undefined; upstreamId?: string | undefined } = {},
  ) {
    const { queued, upstreamId } = options;
    const requested = demandedAcr(interaction.params, config.acrValues)?.values ?? [];
    // Test mode without a queued amr says amr ["test"]: no factor to measure, so it echoes the
    // first requested supported value, as it always did.
    const acr =
      queued?.acr ??
      (testMode && !queued?.amr
        ? requested[0]
        : acrForSession(queued?.amr ?? amr, requested, config.acrValues));
    let ts: number | undefined;
    if (upstreamId) {
      ts = Math.floor(Date.now() / 1000);
      const login = { sub: accountId, loginTs: ts, upstreamId };
      await recordUpstreamLogin(deps.store, login, upstreamLoginTtl(config.ttl));
    }
    const login = {
      accountId,
      amr: queued?.amr ?? amr,
      ...(acr ? { acr } : {}),
      ...(ts === undefined ? {} : { ts }),
    };
    await finish(ctx, { select_account: {}, login }, false);
  }

  secondFactor.register(router, {
    form,
    details,
    requireCsrf,
    completeLogin: (ctx, sub, amr, upstreamId) =>
      details(ctx).then((i) => completeLogin(ctx, i, sub, amr, { upstreamId })),
  });

  /**
   * Test mode: `login_hint` signs that user in and consent is granted without a page, unless the
   * request asked for prompt=login or prompt=consent. A device-flow login is never approved without
   * its page (an entered code needs the user's Allow). Returns whether it finished the step.
   */
  async function completeNonInteractively(ctx: Context, interaction: Awaited<ReturnType<typeof details>>) {
    const { prompt, params } = interaction;
    const hint = typeof params.login_hint === 'string' ? params.login_hint.trim() : '';
    const asked = new Set(typeof params.prompt === 'string' ? params.prompt.split(' ') : []);
    if (!hint || asked.has(prompt.name === 'consent' ? 'consent' : 'login')) return false;
    if (prompt.name === 'login') {
      const account = await accounts.authenticate(hint, '');
      if (!account) return false;
      const queued = await takeNextLoginAuth(deps.store, hint);
      await completeLogin(ctx, interaction, account.claims.sub, ['test'], {
        queued,
        upstreamId: account.upstreamId,
      });
      return true;
    }
    if (prompt.name === 'consent' && !interaction.deviceCode) {
      await finish(ctx, await grantConsent(providers.current, interaction, config.claims), true);
      return true;
    }
    return false;
  }

  router.post('/:uid/confirm', form, async (ctx) => {
    const interaction = await details(ctx);
    requireCsrf(ctx, interaction.uid);
    if (interaction.prompt.name !== 'consent') {
      throw new AppError(
        400,
        'invalid_request',
        'There is nothing to approve here.',
        `confirm posted during ${interaction.prompt.name}`,
      );
    }
    await finish(ctx, await grantConsent(providers.current, interaction, config.claims), true);
    (ctx.state.log as Logger | undefined)?.info(
      {
        audit: true,
        event: 'consent.granted',
        sub: interaction.session?.accountId,
        clientId: interaction.params.client_id,
        ...(interaction.deviceCode ? { deviceFlow: true } : {}),
      },
      'consent granted',
    );
  });

  router.post('/:uid/abort', form, async (ctx) => {
    const interaction = await details(ctx);
    requireCsrf(ctx, interaction.uid);
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}

/** Parses the test-mode claims field: a JSON object, or null when it is not one. */
function parseClaims(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null; // not JSON: the caller re-renders the form with an explanation
  }
}

function formatWait(seconds: number): string {
  return seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
}
