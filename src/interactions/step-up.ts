import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { demandedAcr, planStepUp, type StepUp } from '../mfa/acr.js';
import type { FactorAvailability } from '../mfa/factor-availability.js';
import { ACR_STEP_UP_REASON } from '../oidc/acr-policy.js';
import { findUpstreamLogin } from '../accounts/upstream-logins.js';
import type { SecondFactorStep } from './second-factor.js';

/** A signed-in user about to be asked for a factor (the second-factor step's pending sign-in). */
export interface StepUpSignIn {
  sub: string;
  amr: string[];
  clientName: string;
  upstreamId?: string;
}

/**
 * PASSKEY SEAM (2 of 2): asks the user for a passkey to reach `phr` (or two factors), rendering
 * the page and returning true; false when it cannot (nothing rendered: the caller goes on as if
 * the user held no passkey). The passkeys code passes its own as `StepUpDeps.askForPasskey`; it
 * ends the sign-in with `amr` ["hwk"|"swk", "user", "mfa"] through the interaction router's
 * `completeLogin`. Seam 1 (whether the user holds a passkey) is in src/mfa/factor-availability.ts.
 */
export type AskForPasskey = (ctx: Context, uid: string, signIn: StepUpSignIn) => Promise<boolean>;

/** Until passkeys exist: never asks. */
export const noPasskeyPrompt: AskForPasskey = async () => false;

export interface StepUpDeps {
  config: Config;
  store: Store;
  providers: ProviderRef;
  availability: FactorAvailability;
  secondFactor: SecondFactorStep;
  askForPasskey?: AskForPasskey;
}

interface InteractionView {
  uid: string;
  prompt: { name: string; reasons: string[] };
  params: Record<string, unknown>;
  session?: { accountId: string; amr?: string[]; cookie?: string } | undefined;
}

/**
 * Step-up with `acr_values` or an essential `acr` claim (src/mfa/acr.ts, src/oidc/acr-policy.ts):
 * what a sign-in must still ask for so its session meets what the request demands.
 */
export function createStepUp(deps: StepUpDeps) {
  const { config, availability, secondFactor } = deps;
  const askForPasskey = deps.askForPasskey ?? noPasskeyPrompt;
  const demandOf = (params: Record<string, unknown>) => demandedAcr(params, config.acrValues);

  return {
    /**
     * After the first factor (`amr`): what the demand still needs from this user. A passkey is
     * asked for here when the user holds one (`askForPasskey`); when that is not possible, the
     * plan is made again as if the user held none.
     */
    async afterFirstFactor(
      ctx: Context,
      uid: string,
      params: Record<string, unknown>,
      signIn: StepUpSignIn,
    ): Promise<StepUp | 'asked'> {
      if (config.mode === 'test') return 'none';
      const demand = demandOf(params);
      const held = await availability.held(signIn.sub);
      const plan = planStepUp(signIn.amr, demand, held);
      if (plan !== 'passkey') return plan;
      if (await askForPasskey(ctx, uid, signIn)) return 'asked';
      return planStepUp(signIn.amr, demand, { ...held, passkey: false });
    },

    /**
     * On the login page's GET: when the only reason to sign in is the step-up and the browser's
     * session already knows the user, asks just for the missing factor (not the password again)
     * and returns true. Any other reason (no session, `max_age`, `prompt=login`, `require_mfa`, an
     * `id_token_hint` for someone else) shows the whole sign-in as before.
     */
    async askMissingFactor(
      ctx: Context,
      interaction: InteractionView,
      page: { clientName: string; accountName: string },
    ): Promise<boolean> {
      const { prompt, session } = interaction;
      if (config.mode === 'test' || prompt.name !== 'login' || !session?.accountId) return false;
      if (prompt.reasons.length !== 1 || prompt.reasons[0] !== ACR_STEP_UP_REASON) return false;
      const signIn: StepUpSignIn = {
        sub: session.accountId,
        // The session's own methods (none recorded: an upstream that sent no amr); the code adds otp, mfa.
        amr: session.amr ?? [],
        clientName: page.clientName,
        ...(await sessionUpstream(session)),
      };
      const plan = await this.afterFirstFactor(ctx, interaction.uid, interaction.params, signIn);
      if (plan === 'asked') return true;
      if (plan !== 'otp' && plan !== 'enrol-otp') return false;
      return secondFactor.begin(ctx, interaction.uid, signIn, {
        mfa: plan === 'enrol-otp',
        account: page.accountName,
      });
    },
  };

  /** The upstream that signed the session in (for `idp` in the stepped-up sign-in's ID tokens). */
  async function sessionUpstream(session: { accountId: string; cookie?: string }) {
    if (!config.upstreams.length || !session.cookie) return {};
    const stored = await deps.providers.current.Session.find(session.cookie);
    const upstreamId =
      stored?.loginTs === undefined
        ? undefined
        : await findUpstreamLogin(deps.store, session.accountId, stored.loginTs);
    return upstreamId ? { upstreamId } : {};
  }
}

export type StepUpFlow = ReturnType<typeof createStepUp>;
