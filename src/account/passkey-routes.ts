import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { MAX_PASSKEYS, sessionBinding, type Passkeys } from '../mfa/passkeys.js';
import { PasskeyError, readCredentialField, type WebAuthn } from '../mfa/webauthn.js';

/** What the account router lends its passkey routes. */
export interface AccountPasskeyHooks {
  form: Middleware;
  /** For every POST: the signed-in user (CSRF checked), or undefined once it has answered. */
  postedBy(
    ctx: Context,
  ): Promise<{ sub: string; username: string; name: string; sessionId: string; loginTs: number } | undefined>;
  isFresh(user: { loginTs: number }): boolean;
  signIn(ctx: Context, fresh: boolean): void;
  renderAccount(ctx: Context, user: { sub: string }, notice?: string, status?: number): Promise<void>;
  audit(ctx: Context, event: string, sub: string, fields?: Record<string, unknown>): void;
}

/** Display dates as YYYY-MM-DD (UTC), as the rest of the page does. */
const day = (ms: number | undefined) => (ms ? new Date(ms).toISOString().slice(0, 10) : undefined);

/** The user's passkeys as the account page lists them. */
export async function describePasskeys(passkeys: Passkeys, sub: string) {
  return (await passkeys.list(sub)).map((p) => ({
    id: p.id,
    name: p.name,
    created: day(p.createdAt),
    lastUsed: day(p.lastUsedAt),
    synced: p.backupEligible,
  }));
}

/**
 * The account page's passkeys: `POST /account/passkeys/options` (JSON options for
 * `navigator.credentials.create`, asked for by the page's script), `POST /account/passkeys/add`
 * (the attestation in the form field `credential`) and `POST /account/passkeys/remove` (field
 * `id`; needs a fresh sign-in, like removing the authenticator app). Registration asks for a
 * discoverable credential with user verification; existing passkeys are excluded.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential
 */
export function registerAccountPasskeyRoutes(
  router: Router,
  deps: { passkeys: Passkeys; webauthn: WebAuthn },
  hooks: AccountPasskeyHooks,
): void {
  const { passkeys, webauthn } = deps;

  router.post('/passkeys/options', hooks.form, async (ctx) => {
    const user = await hooks.postedBy(ctx);
    if (!user) return;
    try {
      ctx.body = await webauthn.registrationOptions(sessionBinding(user.sessionId), {
        sub: user.sub,
        username: user.username,
        displayName: user.name,
      });
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: err.userMessage };
    }
  });

  router.post('/passkeys/add', hooks.form, async (ctx) => {
    const user = await hooks.postedBy(ctx);
    if (!user) return;
    const body = ctx.request.body as Record<string, unknown>;
    const credential = readCredentialField(body.credential);
    if (!credential) {
      const full = (await passkeys.list(user.sub)).length >= MAX_PASSKEYS;
      return hooks.renderAccount(
        ctx,
        user,
        full
          ? `You have ${MAX_PASSKEYS} passkeys: remove one first.`
          : 'No passkey was added: the request was cancelled, timed out, or this browser cannot make passkeys.',
        400,
      );
    }
    const typed = typeof body.name === 'string' ? body.name.replace(/\s+/g, ' ').trim().slice(0, 64) : '';
    const count = (await passkeys.list(user.sub)).length;
    const name = typed || `Passkey ${count + 1}`;
    try {
      const added = await webauthn.register(
        sessionBinding(user.sessionId),
        user.sub,
        credential as unknown as RegistrationResponseJSON,
        name,
      );
      hooks.audit(ctx, 'mfa.passkey_added', user.sub, {
        credentialId: added.id,
        synced: added.backupEligible,
      });
      await hooks.renderAccount(ctx, user, `Passkey "${name}" added.`);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      hooks.audit(ctx, 'mfa.passkey_refused', user.sub, { reason: err.code });
      await hooks.renderAccount(ctx, user, err.userMessage, 400);
    }
  });

  router.post('/passkeys/remove', hooks.form, async (ctx) => {
    const user = await hooks.postedBy(ctx);
    if (!user) return;
    const body = ctx.request.body as Record<string, unknown>;
    const id = typeof body.id === 'string' ? body.id.slice(0, 1024) : '';
    const mine = (await passkeys.list(user.sub)).some((p) => p.id === id);
    if (!mine) return hooks.renderAccount(ctx, user, 'That passkey is not one of yours (any more).', 400);
    if (!hooks.isFresh(user)) return hooks.signIn(ctx, true);
    const removed = await passkeys.remove(user.sub, id);
    if (removed) hooks.audit(ctx, 'mfa.passkey_removed', user.sub, { credentialId: removed.id });
    await hooks.renderAccount(ctx, user, removed ? `Passkey "${removed.name}" removed.` : undefined);
  });
}
