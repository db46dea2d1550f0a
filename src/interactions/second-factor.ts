import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import type { Views } from '../http/views.js';
import type { Metrics } from '../http/metrics.js';
import { AppError } from '../http/app-error.js';
import { budgetKey, type Budget, type RateLimits } from '../http/rate-limits.js';
import type { Factors } from '../mfa/factors.js';
import { newTotpSecret } from '../mfa/totp.js';
import { totpSetupView } from '../mfa/qr.js';
import type { Passkeys } from '../mfa/passkeys.js';

/** A sign-in whose password was right, waiting for its second factor: `mfa-pending:<uid>`. */
interface PendingSignIn {
  sub: string;
  /** RFC 8176 methods of the first step (`pwd`, or `test` in test mode). */
  amr: string[];
  clientName: string;
  /** The upstream (an LDAP directory) that checked the password, for the ID tokens' `idp`. */
  upstreamId?: string;
  /** Set when only a passkey will do (a step-up to `phr`): the code page offers no code field. */
  passkeyOnly?: boolean;
  /** Set when the user has no second factor but must have one: the app being set up. */
  enrol?: { secret: string; account: string; confirmed?: boolean };
}

export interface SecondFactorDeps {
  store: Store;
  factors: Factors;
  views: Views;
  rateLimits: RateLimits;
  metrics?: Metrics;
  /** How long the code page waits (the interaction's lifetime). */
  ttlSeconds: number;
  issuer: string;
  csrfFor(uid: string): string;
  /** When given, a user's passkeys count as a second factor (the page offers them). */
  passkeys?: Passkeys;
}

/** What the interaction router lends the step: its loaders and the way it ends a sign-in. */
export interface SecondFactorHooks {
  form: Middleware;
  details(ctx: Context): Promise<{ uid: string; prompt: { name: string }; params: Record<string, unknown> }>;
  requireCsrf(ctx: Context, uid: string): void;
  /** Ends the login prompt as `sub`, with these RFC 8176 `amr` values (and the `idp` upstream, if any). */
  completeLogin(ctx: Context, sub: string, amr: string[], upstreamId?: string): Promise<void>;
}

const pendingKey = (uid: string) => `mfa-pending:${uid}`;
const WRONG_CODE = 'That code is not right, or was already used. Try the next code from your app.';

/**
 * The second step of signing in: after a right password, a user with a second factor is asked
 * for a TOTP code (RFC 6238) or a recovery code on a page of its own (`input[name=otp]`), posted
 * to `/interaction/<uid>/otp`. Wrong codes count against the `secondFactorPerUserAndIp` (blocks)
 * and `secondFactorPerUser` budgets, like passwords do against theirs.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
export function createSecondFactorStep(deps: SecondFactorDeps) {
  const { store, factors, views, rateLimits, metrics } = deps;

  async function render(ctx: Context, uid: string, pending: PendingSignIn, error?: string, status?: number) {
    const passkey = (await deps.passkeys?.has(pending.sub)) ?? false;
    views.render(
      ctx,
      'second-factor',
      {
        title: 'Two-step verification',
        action: `/interaction/${uid}/otp`,
        abortAction: `/interaction/${uid}/abort`,
        csrf: deps.csrfFor(uid),
        clientName: pending.clientName,
        // The code field unless the user's only factor is a passkey, or only a passkey will do.
        otp: !pending.passkeyOnly && (!passkey || (await factors.isEnrolled(pending.sub))),
        ...(passkey
          ? {
              passkeyAction: `/interaction/${uid}/passkey`,
              passkeyOptions: `/interaction/${uid}/passkey/options`,
            }
          : {}),
        ...(error ? { error } : {}),
      },
      status,
    );
  }

  async function renderEnrol(
    ctx: Context,
    uid: string,
    enrol: { secret: string; account: string },
    error?: string,
  ) {
    views.render(
      ctx,
      'account-totp-setup',
      {
        title: 'Set up two-step verification',
        action: `/interaction/${uid}/otp`,
        abortAction: `/interaction/${uid}/abort`,
        csrf: deps.csrfFor(uid),
        ...(await totpSetupView(enrol.secret, deps.issuer, enrol.account)),
        ...(error ? { error } : {}),
      },
      error ? 401 : undefined,
    );
  }

  return {
    /** The sign-in waiting for its second factor in interaction `uid` (not one enrolling), if any. */
    async pending(uid: string): Promise<PendingSignIn | undefined> {
      const pending = await store.getRecord<PendingSignIn>(pendingKey(uid));
      return pending && !pending.enrol ? pending : undefined;
    },
    async clearPending(uid: string): Promise<void> {
      await store.deleteRecord(pendingKey(uid));
    },
    /** Shows the second-factor page (again) for `pending`, with an error. */
    render,
    /**
     * Asks a signed-in user for one of their passkeys only (a step-up to `phr`: a code would not
     * do): remembers the sign-in, shows the page with the passkey button alone and returns true;
     * false (nothing shown) when the user has no passkey.
     */
    async askPasskey(ctx: Context, uid: string, pending: PendingSignIn): Promise<boolean> {
      if (!(await deps.passkeys?.has(pending.sub))) return false;
      const only = { ...pending, passkeyOnly: true };
      await store.setRecord(pendingKey(uid), only, deps.ttlSeconds);
      await render(ctx, uid, only);
      return true;
    },
    /**
     * Called after a right password: when the user has a second factor, remembers the sign-in
     * for this interaction, shows the code page and returns true; when the user has none but
     * `required`, shows the enrolment page (an authenticator app, confirmed by a code) and returns
     * true; otherwise returns false.
     */
    async begin(
      ctx: Context,
      uid: string,
      pending: PendingSignIn,
      required: { mfa: boolean; account: string },
    ): Promise<boolean> {
      if ((await factors.isEnrolled(pending.sub)) || (await deps.passkeys?.has(pending.sub))) {
        await store.setRecord(pendingKey(uid), pending, deps.ttlSeconds);
        await render(ctx, uid, pending);
        return true;
      }
      if (!required.mfa) return false;
      const enrol = { secret: newTotpSecret(), account: required.account };
      await store.setRecord(pendingKey(uid), { ...pending, enrol }, deps.ttlSeconds);
      await renderEnrol(ctx, uid, enrol);
      return true;
    },

    /** Adds `POST /:uid/otp` to the interaction router. */
    register(router: Router, hooks: SecondFactorHooks): void {
      router.post('/:uid/otp', hooks.form, async (ctx) => {
        const interaction = await hooks.details(ctx);
        hooks.requireCsrf(ctx, interaction.uid);
        const pending =
          interaction.prompt.name === 'login' || interaction.prompt.name === 'select_account'
            ? await store.getRecord<PendingSignIn>(pendingKey(interaction.uid))
            : undefined;
        if (!pending || pending.passkeyOnly) {
          throw new AppError(
            400,
            'invalid_request',
            pending
              ? 'This sign-in needs a passkey: a code will not do.'
              : 'This sign-in has no code to check. Go back and sign in again.',
            `otp posted ${pending ? 'where only a passkey will do' : 'without a pending sign-in'} during ${interaction.prompt.name}`,
          );
        }
        const body = ctx.request.body as Record<string, unknown>;
        const otp = typeof body.otp === 'string' ? body.otp.slice(0, 64) : '';
        const budgets: Budget[] = [
          ['secondFactorPerUserAndIp', budgetKey(pending.sub, ctx.ip)],
          ['secondFactorPerUser', pending.sub],
        ];
        const wait = await rateLimits.retryAfterAny(budgets);
        if (wait > 0) {
          ctx.set('retry-after', String(wait));
          const minutes = wait < 120 ? `${wait} seconds` : `${Math.ceil(wait / 60)} minutes`;
          const message = `Too many wrong codes. Try again in ${minutes}.`;
          if (pending.enrol && !pending.enrol.confirmed) {
            await renderEnrol(ctx, interaction.uid, pending.enrol, message);
            ctx.status = 429;
            return;
          }
          return render(ctx, interaction.uid, pending, message, 429);
        }
        const log = (ctx.state.log as Logger | undefined)?.child({ audit: true });
        const clientId = interaction.params.client_id;
        if (pending.enrol) {
          if (pending.enrol.confirmed)
            throw new AppError(
              400,
              'invalid_request',
              'Continue from the recovery codes page.',
              'otp posted after enrolment',
            );
          if (!(await factors.checkNewSecret(pending.sub, pending.enrol.secret, otp))) {
            await rateLimits.recordFailures(budgets);
            return renderEnrol(
              ctx,
              interaction.uid,
              pending.enrol,
              'That code is not right. Check the app and try the next code.',
            );
          }
          await factors.setTotp(pending.sub, pending.enrol.secret);
          const codes = await factors.newRecoveryCodes(pending.sub);
          const confirmed = { ...pending, enrol: { ...pending.enrol, secret: '', confirmed: true } };
          await store.setRecord(pendingKey(interaction.uid), confirmed, deps.ttlSeconds);
          log?.info(
            { event: 'mfa.totp_enrolled', sub: pending.sub, ip: ctx.ip, clientId, via: 'sign-in' },
            'second factors changed',
          );
          return views.render(ctx, 'account-recovery-codes', {
            title: 'Your recovery codes',
            codes,
            csrf: deps.csrfFor(interaction.uid),
            continueAction: `/interaction/${interaction.uid}/continue`,
          });
        }
        const method = otp ? await factors.verify(pending.sub, otp) : undefined;
        if (!method) {
          const tried = /^\d{6}$/.test(otp.replace(/\s/g, '')) ? 'totp' : 'recovery-code';
          metrics?.secondFactors.inc({ method: tried, result: 'failure' });
          log?.warn(
            { event: 'mfa.failure', sub: pending.sub, method: tried, clientId },
            'second factor refused',
          );
          await rateLimits.recordFailures(budgets);
          return render(ctx, interaction.uid, pending, WRONG_CODE, 401);
        }
        metrics?.secondFactors.inc({ method, result: 'success' });
        log?.info({ event: 'mfa.success', sub: pending.sub, method, clientId }, 'second factor accepted');
        await store.deleteRecord(pendingKey(interaction.uid));
        await rateLimits.reset('secondFactorPerUserAndIp', budgetKey(pending.sub, ctx.ip));
        await hooks.completeLogin(ctx, pending.sub, [...pending.amr, 'otp', 'mfa'], pending.upstreamId);
      });

      // After enrolling during sign-in and seeing the recovery codes: the sign-in ends, two factors strong.
      router.post('/:uid/continue', hooks.form, async (ctx) => {
        const interaction = await hooks.details(ctx);
        hooks.requireCsrf(ctx, interaction.uid);
        const pending = await store.getRecord<PendingSignIn>(pendingKey(interaction.uid));
        if (!pending?.enrol?.confirmed || !['login', 'select_account'].includes(interaction.prompt.name)) {
          throw new AppError(
            400,
            'invalid_request',
            'There is nothing to continue here. Sign in again.',
            'continue without a confirmed enrolment',
          );
        }
        await store.deleteRecord(pendingKey(interaction.uid));
        await hooks.completeLogin(ctx, pending.sub, [...pending.amr, 'otp', 'mfa'], pending.upstreamId);
      });
    },
  };
}

export type SecondFactorStep = ReturnType<typeof createSecondFactorStep>;
