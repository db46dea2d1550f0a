import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** Which claims each scope releases (the configuration's `claims`). */
export type ClaimsByScope = Readonly<Record<string, readonly string[]>>;

/** Claims oidc-provider always releases when asked (they describe the authentication, not the user). */
const AUTHENTICATION_CLAIMS = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/**
 * The claims of `requested` that the scopes release: individually requested claims (the `claims`
 * request parameter) are released only within the scopes the user consented to, never beyond.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClaimsParameter
 */
export function claimsWithinScopes(
  requested: Iterable<string>,
  scopes: Iterable<string>,
  claimsByScope: ClaimsByScope,
): string[] {
  const covered = new Set([...scopes].flatMap((scope) => claimsByScope[scope] ?? []));
  return [...requested].filter((claim) => covered.has(claim));
}

/**
 * Replaces the consent prompt's `op_claims_missing` check. oidc-provider's own asks for consent to
 * every individually requested claim and `grantConsent` would then grant them all, whatever the
 * scopes; this one counts a claim as missing only when a scope the user granted this client
 * (or is asked for now) releases it. A claim outside those scopes is not asked about, not granted,
 * and so not released: an `essential` one too (OIDC Core §5.5.1: not an error).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IndividualClaimsRequests
 */
export function restrictClaimsToConsentedScopes(
  policy: ReturnType<typeof interactionPolicy.base>,
  claimsByScope: ClaimsByScope,
): void {
  const consent = policy.get('consent');
  if (!consent) throw new Error('the interaction policy has no consent prompt');
  const index = consent.checks.findIndex((check) => check.reason === 'op_claims_missing');
  if (index === -1) throw new Error('the consent prompt has no op_claims_missing check');
  const missing = new WeakMap<object, string[]>();
  consent.checks.remove('op_claims_missing');
  consent.checks.add(
    new interactionPolicy.Check(
      'op_claims_missing',
      'requested claims not granted',
      (ctx) => {
        const { grant } = ctx.oidc;
        if (!grant) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const encountered = new Set(grant.getOIDCClaimsEncountered());
        const scopes = [...grant.getOIDCScope().split(' '), ...ctx.oidc.requestParamOIDCScopes];
        const wanted = [...ctx.oidc.requestParamClaims].filter(
          (claim) => !AUTHENTICATION_CLAIMS.has(claim) && !encountered.has(claim),
        );
        const asked = claimsWithinScopes(wanted, scopes, claimsByScope);
        if (asked.length === 0) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        missing.set(ctx, asked);
        return interactionPolicy.Check.REQUEST_PROMPT;
      },
      (ctx) => ({ missingOIDCClaims: missing.get(ctx) }),
    ),
    index,
  );
}

/**
 * oidc-provider's `loadExistingGrant`, as its default (the grant of this consent, or the one the
 * session holds for the client), plus: individually requested claims that a scope of that grant
 * releases are added to it. The user consented to those scopes for this client already, so asking
 * again would only show an empty consent page (and fail `prompt=none` with consent_required).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClaimsParameter
 */
export function createLoadExistingGrant(claimsByScope: ClaimsByScope) {
  return async (ctx: KoaContextWithOIDC) => {
    const grantId =
      ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
    if (!grantId) return undefined;
    const grant = await ctx.oidc.provider.Grant.find(grantId);
    if (!grant || ctx.oidc.params?.claims === undefined) return grant;
    const granted = new Set(grant.getOIDCClaimsEncountered());
    const wanted = [...ctx.oidc.requestParamClaims].filter(
      (claim) => !AUTHENTICATION_CLAIMS.has(claim) && !granted.has(claim),
    );
    const covered = claimsWithinScopes(wanted, grant.getOIDCScope().split(' '), claimsByScope);
    if (covered.length > 0) {
      grant.addOIDCClaims(covered);
      await grant.save();
    }
    return grant;
  };
}
