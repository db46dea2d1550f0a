import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { AppError } from '../http/app-error.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Grants what the consent prompt found missing (scopes, claims, resource scopes) and returns the
 * interaction result that finishes the consent step.
 */
export async function grantConsent(
  provider: Provider,
  interaction: Interaction,
): Promise<InteractionResults> {
  const { prompt, params, session, grantId } = interaction;
  if (!session?.accountId)
    throw new AppError(400, 'invalid_request', 'Sign in first.', 'consent without a session');
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
  return { consent: grantId ? {} : { grantId: savedGrantId } };
}
