import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { Config } from '../config/schema.js';
import type { Views } from '../http/views.js';
import { AppError } from '../http/app-error.js';
import { createCsrf } from './csrf.js';
import { describeScopes } from './scope-descriptions.js';

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountStore;
  views: Views;
  config: Config;
}

const LOGIN_FAILED = 'Incorrect username or password.';

/**
 * The login, consent and abort pages behind oidc-provider's interactions.
 * Successful POSTs end in oidc-provider's 303 redirect back to the authorization flow.
 *
 * @see https://github.com/panva/node-oidc-provider/blob/main/example/routes/koa.js
 */
export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, accounts, views, config } = deps;
  const csrf = createCsrf(config.cookies.keys[0] ?? '');
  const router = new Router({ prefix: '/interaction' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: `${config.http.bodyLimitBytes}b` });

  router.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });

  const details = (ctx: Context) => provider.interactionDetails(ctx.req, ctx.res);
  const finish = (ctx: Context, result: InteractionResults, merge: boolean) =>
    provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge }).then(() => {
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

  async function clientName(clientId: unknown) {
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    return client?.clientName ?? (typeof clientId === 'string' ? clientId : 'the application');
  }

  function renderLogin(
    ctx: Context,
    uid: string,
    data: { clientName: string; username: string; error?: string; title?: string },
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
    const name = await clientName(params.client_id);

    if (prompt.name === 'login' || prompt.name === 'select_account') {
      const current = session?.accountId ? await accounts.findBySub(session.accountId) : undefined;
      const hint = typeof params.login_hint === 'string' ? params.login_hint : undefined;
      renderLogin(ctx, interaction.uid, {
        clientName: name,
        username: hint ?? current?.username ?? '',
        title: prompt.name === 'select_account' ? 'Choose an account' : 'Sign in',
      });
      return;
    }
    if (prompt.name === 'consent') {
      const account = session?.accountId ? await accounts.findBySub(session.accountId) : undefined;
      const missing = prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      views.render(ctx, 'consent', {
        title: 'Allow access?',
        clientName: name,
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
    const account = username && password ? await accounts.authenticate(username, password) : undefined;
    if (!account) {
      renderLogin(
        ctx,
        interaction.uid,
        { clientName: await clientName(interaction.params.client_id), username, error: LOGIN_FAILED },
        401,
      );
      return;
    }
    const requestedAcr =
      typeof interaction.params.acr_values === 'string' ? interaction.params.acr_values.split(' ') : [];
    const acr = requestedAcr.find((value) => config.acrValues.includes(value));
    await finish(
      ctx,
      {
        select_account: {},
        login: { accountId: account.claims.sub, amr: ['pwd'], ...(acr ? { acr } : {}) },
      },
      false,
    );
  });

  router.post('/:uid/confirm', form, async (ctx) => {
    const interaction = await details(ctx);
    requireCsrf(ctx, interaction.uid);
    const { prompt, params, session, grantId } = interaction;
    if (prompt.name !== 'consent' || !session?.accountId) {
      throw new AppError(
        400,
        'invalid_request',
        'There is nothing to approve here.',
        `confirm posted during ${prompt.name}`,
      );
    }
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: String(params.client_id) });
    if (!grant)
      throw new AppError(400, 'invalid_request', 'This request has expired. Start again.', 'grant not found');
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const savedGrantId = await grant.save();
    await finish(ctx, { consent: grantId ? {} : { grantId: savedGrantId } }, true);
  });

  router.post('/:uid/abort', form, async (ctx) => {
    const interaction = await details(ctx);
    requireCsrf(ctx, interaction.uid);
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}
