import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { Store } from '../storage/store.js';
import type { Views } from '../http/views.js';
import type { AccountStore } from '../accounts/account-store.js';
import { AppError } from '../http/app-error.js';
import { budgetKey, type Budget, type RateLimits } from '../http/rate-limits.js';
import { createCsrf } from '../interactions/csrf.js';
import type { Factors } from '../mfa/factors.js';
import { newTotpSecret } from '../mfa/totp.js';
import { totpSetupView } from '../mfa/qr.js';
import { ACCOUNT_CLIENT_ID, accountCallback } from '../oidc/account-client.js';
import { createPasskeys } from '../mfa/passkeys.js';
import { createWebAuthn } from '../mfa/webauthn.js';
import { describePasskeys, registerAccountPasskeyRoutes } from './passkey-routes.js';

export interface AccountDeps {
  providers: ProviderRef;
  store: Store;
  views: Views;
  config: Config;
  accounts: AccountStore;
  factors: Factors;
  rateLimits: RateLimits;
}

/** A signed-in user of the page: the provider's session, its account and its CSRF token. */
interface SignedIn {
  sub: string;
  username: string;
  name: string;
  sessionId: string;
  loginTs: number;
  csrf: string;
}

const STATE_COOKIE = '_account_state';
const SETUP_SECONDS = 600;
const setupKey = (sessionId: string) => `mfa-setup:${sessionId}`;

/**
 * The account page, `/account`: the user's second factors, on the provider's own session (signing
 * in goes through /authorize with the built-in `gatehouse-account` client). Sets up an
 * authenticator app (key as text and an SVG QR code of its otpauth:// URI; it counts only once a
 * code from it is confirmed), shows recovery codes once, and gives new recovery codes or removes
 * the app only after a sign-in of at most `mfa.freshSignInSeconds`. Every form carries a CSRF token
 * bound to the session; no script.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238
 */
export function createAccountRouter(deps: AccountDeps): Router {
  const { providers, store, views, config, factors, rateLimits } = deps;
  const csrf = createCsrf(config.cookies.keys[0] ?? '');
  const https = new URL(config.issuer).protocol === 'https:';
  const router = new Router({ prefix: '/account' });
  const form = bodyParser({
    enableTypes: ['form'],
    formLimit: `${config.http.bodyLimitBytes}b`,
    onError: (err) => {
      throw new AppError(400, 'invalid_request', 'The form could not be read.', err.message);
    },
  });
  router.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });

  /** Sends the browser to sign in (again, with `fresh`), then back to /account. */
  function signIn(ctx: Context, fresh = false) {
    const state = randomBytes(16).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, state, {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: https,
      path: '/account',
      maxAge: SETUP_SECONDS * 1000,
    });
    const url = new URL(`${config.issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: accountCallback(config.issuer),
      state,
      // The code is never redeemed (the session is what the page needs); PKCE keeps it useless.
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      ...(fresh ? { prompt: 'login' } : {}),
    }).toString();
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  /** The signed-in user, or undefined (the caller sends the browser to sign in). */
  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await providers.current.Session.get(ctx);
    if (!session.accountId || !session.loginTs) return undefined;
    const account = await deps.accounts.findBySub(session.accountId);
    if (!account) return undefined;
    const name = typeof account.claims.name === 'string' ? account.claims.name : account.username;
    return {
      sub: account.claims.sub,
      username: account.username,
      name,
      sessionId: session.jti,
      loginTs: session.loginTs,
      csrf: csrf.tokenFor(`account:${session.jti}`),
    };
  }

  /** For every POST: a signed-in user and a right CSRF token, else a redirect or a 403. */
  async function postedBy(ctx: Context): Promise<SignedIn | undefined> {
    const user = await signedIn(ctx);
    if (!user) {
      ctx.status = 303;
      ctx.redirect('/account');
      return undefined;
    }
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!csrf.verify(`account:${user.sessionId}`, body?.csrf)) {
      throw new AppError(
        403,
        'invalid_request',
        'The form has expired or was not sent by this site. Go back and try again.',
        'account csrf token missing or wrong',
      );
    }
    return user;
  }

  const isFresh = (user: { loginTs: number }) =>
    Date.now() / 1000 - user.loginTs <= config.mfa.freshSignInSeconds;
  const audit = (ctx: Context, event: string, sub: string, fields: Record<string, unknown> = {}) =>
    (ctx.state.log as Logger | undefined)?.info(
      { audit: true, event, sub, ip: ctx.ip, via: 'account page', ...fields },
      'second factors changed',
    );
  const passkeys = createPasskeys(store);

  async function renderAccount(ctx: Context, user: SignedIn, notice?: string, status?: number) {
    const factorsNow = await factors.describe(user.sub);
    views.render(
      ctx,
      'account',
      {
        title: 'Your account',
        accountName: user.name,
        csrf: user.csrf,
        passkeys: await describePasskeys(passkeys, user.sub),
        totp: factorsNow.totp,
        enrolledAt: factorsNow.enrolledAt
          ? new Date(factorsNow.enrolledAt).toISOString().slice(0, 10)
          : undefined,
        recoveryCodesLeft: factorsNow.recoveryCodesLeft,
        freshMinutes: Math.max(1, Math.round(config.mfa.freshSignInSeconds / 60)),
        ...(notice ? { notice } : {}),
      },
      status,
    );
  }

  async function renderSetup(ctx: Context, user: SignedIn, secret: string, error?: string) {
    views.render(
      ctx,
      'account-totp-setup',
      {
        title: 'Set up an authenticator app',
        csrf: user.csrf,
        action: '/account/totp/confirm',
        ...(await totpSetupView(secret, config.issuer, user.name)),
        ...(error ? { error } : {}),
      },
      error ? 401 : undefined,
    );
  }

  function renderCodes(ctx: Context, codes: string[]) {
    views.render(ctx, 'account-recovery-codes', { title: 'Your recovery codes', codes });
  }

  router.get('/', async (ctx) => {
    const user = await signedIn(ctx);
    if (!user) return signIn(ctx);
    await renderAccount(ctx, user);
  });

  router.get('/callback', async (ctx) => {
    const expected = ctx.cookies.get(STATE_COOKIE, { signed: true });
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account' });
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    if (!expected || state !== expected) {
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in did not start here. Open your account page again.',
        'account state missing or wrong',
      );
    }
    if (typeof ctx.query.error === 'string') {
      throw new AppError(400, 'access_denied', 'You did not sign in.', `account sign-in: ${ctx.query.error}`);
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/totp/setup', form, async (ctx) => {
    const user = await postedBy(ctx);
    if (!user) return;
    if ((await factors.describe(user.sub)).totp)
      return renderAccount(ctx, user, 'An authenticator app is already on.');
    const secret = newTotpSecret();
    await store.setRecord(setupKey(user.sessionId), { sub: user.sub, secret }, SETUP_SECONDS);
    await renderSetup(ctx, user, secret);
  });

  router.post('/totp/confirm', form, async (ctx) => {
    const user = await postedBy(ctx);
    if (!user) return;
    const setup = await store.getRecord<{ sub: string; secret: string }>(setupKey(user.sessionId));
    if (!setup || setup.sub !== user.sub) {
      return renderAccount(ctx, user, 'The setup expired. Start again.');
    }
    const budgets: Budget[] = [['secondFactorPerUserAndIp', budgetKey(user.sub, ctx.ip)]];
    if ((await rateLimits.retryAfterAny(budgets)) > 0) {
      return renderSetup(ctx, user, setup.secret, 'Too many wrong codes. Wait a while and try again.');
    }
    const body = ctx.request.body as Record<string, unknown>;
    const code = typeof body.otp === 'string' ? body.otp.slice(0, 64) : '';
    if (!(await factors.checkNewSecret(user.sub, setup.secret, code))) {
      await rateLimits.recordFailures(budgets);
      return renderSetup(
        ctx,
        user,
        setup.secret,
        'That code is not right. Check the app and try the next code.',
      );
    }
    await store.deleteRecord(setupKey(user.sessionId));
    await factors.setTotp(user.sub, setup.secret);
    const codes = await factors.newRecoveryCodes(user.sub);
    audit(ctx, 'mfa.totp_enrolled', user.sub);
    renderCodes(ctx, codes);
  });

  router.post('/recovery-codes', form, async (ctx) => {
    const user = await postedBy(ctx);
    if (!user) return;
    if ((await factors.describe(user.sub)).totp !== 'stored') return renderAccount(ctx, user);
    if (!isFresh(user)) return signIn(ctx, true);
    const codes = await factors.newRecoveryCodes(user.sub);
    audit(ctx, 'mfa.recovery_codes_replaced', user.sub);
    renderCodes(ctx, codes);
  });

  router.post('/totp/remove', form, async (ctx) => {
    const user = await postedBy(ctx);
    if (!user) return;
    if ((await factors.describe(user.sub)).totp !== 'stored') return renderAccount(ctx, user);
    if (!isFresh(user)) return signIn(ctx, true);
    await factors.reset(user.sub);
    audit(ctx, 'mfa.reset', user.sub);
    await renderAccount(ctx, user, 'The authenticator app and your recovery codes were removed.');
  });

  registerAccountPasskeyRoutes(
    router,
    {
      passkeys,
      webauthn: createWebAuthn({ issuer: config.issuer, rpName: new URL(config.issuer).host, passkeys }),
    },
    {
      form,
      postedBy,
      isFresh,
      signIn,
      renderAccount: async (ctx, user, notice, status) => {
        const current = await signedIn(ctx);
        if (current && current.sub === user.sub) await renderAccount(ctx, current, notice, status);
      },
      audit,
    },
  );

  return router;
}
