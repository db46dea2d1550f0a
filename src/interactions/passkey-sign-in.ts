import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Metrics } from '../http/metrics.js';
import { AppError } from '../http/app-error.js';
import { budgetKey, type Budget, type RateLimits } from '../http/rate-limits.js';
import { interactionBinding } from '../mfa/passkeys.js';
import { PasskeyError, readCredentialField, type WebAuthn } from '../mfa/webauthn.js';

/** A sign-in waiting for its second factor (see second-factor.ts), as this step needs it. */
export interface PendingFirstFactor {
  sub: string;
  amr: string[];
  clientName: string;
  upstreamId?: string;
}

/** What the interaction router lends the passkey step. */
export interface PasskeyHooks {
  form: Middleware;
  details(ctx: Context): Promise<{ uid: string; prompt: { name: string }; params: Record<string, unknown> }>;
  requireCsrf(ctx: Context, uid: string): void;
  /** The sign-in waiting for a second factor in this interaction, if any. */
  pending(uid: string): Promise<PendingFirstFactor | undefined>;
  /** Forgets it once the second factor is given. */
  clearPending(uid: string): Promise<void>;
  /** Shows the sign-in page again with `error`. */
  renderLogin(ctx: Context, uid: string, clientId: unknown, error: string, status: number): Promise<void>;
  /** Shows the second-factor page again with `error`. */
  renderSecondFactor(
    ctx: Context,
    uid: string,
    pending: PendingFirstFactor,
    error: string,
    status: number,
  ): Promise<void>;
  completeLogin(ctx: Context, sub: string, amr: string[], upstreamId?: string): Promise<void>;
}

type Purpose = 'sign-in' | 'second-factor';
const NOT_USED =
  'The passkey was not used: the request was cancelled, timed out, or this browser has no passkey for this site.';

/**
 * Passkeys on the sign-in pages: `POST /interaction/<uid>/passkey/options` answers the options
 * for `navigator.credentials.get` (JSON; the page's script asks for them), and
 * `POST /interaction/<uid>/passkey` takes the assertion (form field `credential`, JSON, with the
 * CSRF field). On the sign-in page any discoverable passkey signs its user in: a passkey with
 * user verification is two factors by itself (amr `hwk` or `swk`, `user`, `mfa`). On the
 * second-factor page only the pending user's passkeys are asked for.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
export function createPasskeySignIn(deps: { webauthn: WebAuthn; rateLimits: RateLimits; metrics?: Metrics }) {
  const { webauthn, rateLimits, metrics } = deps;

  const purposeOf = (body: unknown): Purpose =>
    (body as Record<string, unknown> | undefined)?.purpose === 'second-factor' ? 'second-factor' : 'sign-in';
  const signingIn = (prompt: string) => prompt === 'login' || prompt === 'select_account';

  async function load(ctx: Context, hooks: PasskeyHooks) {
    const interaction = await hooks.details(ctx);
    hooks.requireCsrf(ctx, interaction.uid);
    const purpose = purposeOf(ctx.request.body);
    const pending = purpose === 'second-factor' ? await hooks.pending(interaction.uid) : undefined;
    if (!signingIn(interaction.prompt.name) || (purpose === 'second-factor' && !pending)) {
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in step has already been completed. Sign in again.',
        `passkey ${purpose} during ${interaction.prompt.name}${pending ? '' : ' without a pending sign-in'}`,
      );
    }
    return { interaction, purpose, pending };
  }

  return {
    register(router: Router, hooks: PasskeyHooks): void {
      router.post('/:uid/passkey/options', hooks.form, async (ctx) => {
        const { interaction, purpose, pending } = await load(ctx, hooks);
        ctx.body = await webauthn.authenticationOptions(
          interactionBinding(interaction.uid),
          purpose,
          pending?.sub,
        );
      });

      router.post('/:uid/passkey', hooks.form, async (ctx) => {
        const { interaction, purpose, pending } = await load(ctx, hooks);
        const uid = interaction.uid;
        const clientId = interaction.params.client_id;
        const refuse = (message: string, status: number) =>
          pending
            ? hooks.renderSecondFactor(ctx, uid, pending, message, status)
            : hooks.renderLogin(ctx, uid, clientId, message, status);
        const body = ctx.request.body as Record<string, unknown>;
        const credential = readCredentialField(body.credential);
        // No assertion: no script, or the browser's dialog was cancelled. Nothing was tried.
        if (!credential) return refuse(NOT_USED, 400);

        const budgets: Budget[] = pending
          ? [
              ['secondFactorPerUserAndIp', budgetKey(pending.sub, ctx.ip)],
              ['secondFactorPerUser', pending.sub],
            ]
          : [['loginPerIp', ctx.ip]];
        const wait = await rateLimits.retryAfterAny(budgets);
        if (wait > 0) {
          ctx.set('retry-after', String(wait));
          const minutes = wait < 120 ? `${wait} seconds` : `${Math.ceil(wait / 60)} minutes`;
          return refuse(`Too many failed attempts. Try again in ${minutes}.`, 429);
        }
        const log = (ctx.state.log as Logger | undefined)?.child({ audit: true });
        let assertion;
        try {
          assertion = await webauthn.authenticate(
            interactionBinding(uid),
            purpose,
            credential as unknown as AuthenticationResponseJSON,
          );
        } catch (err) {
          if (!(err instanceof PasskeyError)) throw err;
          metrics?.secondFactors.inc({ method: 'passkey', result: 'failure' });
          log?.warn(
            {
              event: 'mfa.failure',
              method: 'passkey',
              reason: err.code,
              clientId,
              ip: ctx.ip,
              ...(pending ? { sub: pending.sub } : {}),
            },
            'passkey refused',
          );
          await rateLimits.recordFailures(budgets);
          return refuse(err.userMessage, 401);
        }
        metrics?.secondFactors.inc({ method: 'passkey', result: 'success' });
        log?.info(
          { event: 'mfa.success', sub: assertion.sub, method: 'passkey', amr: assertion.keyMethod, clientId },
          'passkey accepted',
        );
        if (pending) {
          await hooks.clearPending(uid);
          await rateLimits.reset('secondFactorPerUserAndIp', budgetKey(pending.sub, ctx.ip));
          return hooks.completeLogin(
            ctx,
            pending.sub,
            // A step-up from a session that had two factors already keeps each method once.
            [...new Set([...pending.amr, assertion.keyMethod, 'user', 'mfa'])],
            pending.upstreamId,
          );
        }
        metrics?.logins.inc({ result: 'success' });
        log?.info({ event: 'login.success', sub: assertion.sub, method: 'passkey', clientId }, 'signed in');
        await hooks.completeLogin(ctx, assertion.sub, [assertion.keyMethod, 'user', 'mfa']);
      });
    },
  };
}

export type PasskeySignIn = ReturnType<typeof createPasskeySignIn>;
