/**
 * The authentication context classes (`acr`) Gatehouse knows, and what a session's RFC 8176 `amr`
 * meets. Pure: no Koa, no oidc-provider, no store. The levels, lowest first:
 *
 * - `urn:gatehouse:acr:password`: one factor (any real sign-in);
 * - `http://schemas.openid.net/pape/policies/2007/06/multi-factor`: two factors (`amr` has `mfa`);
 * - `phr`: phishing-resistant (`amr` has `hwk` or `swk`: a passkey).
 *
 * Values an operator adds to `acrValues` that are not among these are "opaque": advertised, and a
 * requested one is echoed in the ID token as before (Gatehouse cannot check them).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#acrSemantics
 * @see https://openid.net/specs/openid-connect-eap-acr-values-1_0.html
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */

export const ACR_PASSWORD = 'urn:gatehouse:acr:password';
export const ACR_MULTI_FACTOR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';
export const ACR_PHISHING_RESISTANT = 'phr';

/** The known values, lowest level first (their index + 1 is the level). */
export const KNOWN_ACR_VALUES: readonly string[] = [ACR_PASSWORD, ACR_MULTI_FACTOR, ACR_PHISHING_RESISTANT];

/** 1 = one factor, 2 = two factors, 3 = phishing-resistant; 0 = not signed in / unknown value. */
export type AcrLevel = 0 | 1 | 2 | 3;

/** The level of a known value; 0 for any other (unknown values are never "met" by a level). */
export function levelOfAcr(value: string): AcrLevel {
  return (KNOWN_ACR_VALUES.indexOf(value) + 1) as AcrLevel;
}

/**
 * The level a sign-in with these `amr` values reached. Any sign-in is one factor; `mfa` is two;
 * `hwk`/`swk` (a passkey: possession plus user verification) is phishing-resistant.
 */
export function levelOfAmr(amr: readonly string[] | undefined): AcrLevel {
  if (!amr) return 1;
  if (amr.includes('hwk') || amr.includes('swk')) return 3;
  if (amr.includes('mfa')) return 2;
  return 1;
}

/** Whether a sign-in with these `amr` values meets a known `acr` value (an unknown one: never). */
export function meets(amr: readonly string[] | undefined, acrValue: string): boolean {
  const wanted = levelOfAcr(acrValue);
  return wanted > 0 && levelOfAmr(amr) >= wanted;
}

/** The known value of a level (1..3). */
export function acrOfLevel(level: 1 | 2 | 3): string {
  return KNOWN_ACR_VALUES[level - 1]!;
}

/** What an authorization request asks for: `acr_values` and/or an `acr` claim in `claims`. */
export interface AcrDemand {
  /** The requested values Gatehouse supports (in `acrValues`), in the request's order of preference. */
  values: string[];
  /** An essential `acr` claim: a sign-in meeting none of `values` must not get a token. */
  essential: boolean;
}

/**
 * Reads what a request demands from its raw parameters. `acr_values` is voluntary (OIDC Core
 * §3.1.2.1); `claims.id_token.acr` with `essential: true` is not (§5.5.1.1). The essential claim
 * wins when both are given (oidc-provider would let `acr_values` overwrite it: a downgrade).
 * Values not in `supported` are dropped: nobody can ask for (or be told of) a made-up context.
 * Returns undefined when the request asks for nothing Gatehouse supports.
 */
export function demandedAcr(
  params: { acr_values?: unknown; claims?: unknown },
  supported: readonly string[],
): AcrDemand | undefined {
  const keep = (list: unknown[]) => [
    ...new Set(list.filter((v): v is string => typeof v === 'string' && supported.includes(v))),
  ];
  const claim = essentialAcrClaim(params.claims);
  if (claim) {
    // Essential with only unsupported values: nothing could ever meet it.
    return { values: keep(claim), essential: true };
  }
  const voluntary = typeof params.acr_values === 'string' ? keep(params.acr_values.split(' ')) : [];
  return voluntary.length ? { values: voluntary, essential: false } : undefined;
}

/** The values of an essential `id_token.acr` claim (`value` or `values`), or undefined when none. */
function essentialAcrClaim(claims: unknown): unknown[] | undefined {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined; // oidc-provider answers invalid_request for it before any check runs
    }
  }
  const acr = (parsed as { id_token?: { acr?: unknown } } | undefined)?.id_token?.acr as
    { essential?: unknown; value?: unknown; values?: unknown } | null | undefined;
  if (!acr || typeof acr !== 'object' || acr.essential !== true) return undefined;
  if (Array.isArray(acr.values)) return acr.values;
  if (acr.value !== undefined) return [acr.value];
  return undefined;
}

/**
 * Whether a sign-in with these `amr` values satisfies the demand: it meets one of its known
 * values, or one of them is an operator's opaque value (not checked, as before).
 */
export function satisfies(amr: readonly string[] | undefined, demand: AcrDemand): boolean {
  return demand.values.some((value) => levelOfAcr(value) === 0 || meets(amr, value));
}

/** The lowest known level the demand would accept (undefined when only opaque values are asked). */
export function lowestDemandedLevel(demand: AcrDemand): 1 | 2 | 3 | undefined {
  const levels = demand.values.map(levelOfAcr).filter((l): l is 1 | 2 | 3 => l > 0);
  return levels.length ? (Math.min(...levels) as 1 | 2 | 3) : undefined;
}

/**
 * The `acr` an ID token carries for a sign-in with these `amr` values: the first requested value
 * (in the request's order of preference) the sign-in meets, an opaque operator value echoed as
 * before; else the highest known level the sign-in meets, if that value is supported.
 */
export function acrForSession(
  amr: readonly string[] | undefined,
  requested: readonly string[],
  supported: readonly string[],
): string | undefined {
  for (const value of requested) {
    if (!supported.includes(value)) continue;
    if (levelOfAcr(value) === 0 || meets(amr, value)) return value;
  }
  for (let level = levelOfAmr(amr); level >= 1; level--) {
    const value = acrOfLevel(level as 1 | 2 | 3);
    if (supported.includes(value)) return value;
  }
  return undefined;
}

/** What a known user could still do to reach a level: the factors they hold. */
export interface FactorsHeld {
  totp: boolean;
  /** Filled in by the passkeys code (see `createFactorAvailability`); false until then. */
  passkey: boolean;
}

/** What the sign-in must ask next so the session meets the demand. */
export type StepUp =
  | 'none' // met already, or (voluntary) nothing the user holds could meet it
  | 'otp' // the authenticator app (or a recovery code)
  | 'enrol-otp' // essential two factors, no factor yet: set up the app during sign-in
  | 'passkey' // the user has a passkey: ask for it (the passkeys code handles this)
  | 'deny'; // essential and impossible for this user: access_denied

/**
 * Plans the step-up for a known user whose session has `amr`: the lowest accepted level decides
 * (asking no more than needed). A voluntary demand nobody could meet continues with what the
 * session has (OIDC Core §3.1.2.1); an essential one is refused, except that two factors may be
 * set up during sign-in (as `mfa.policy: "required"` does).
 */
export function planStepUp(
  amr: readonly string[] | undefined,
  demand: AcrDemand | undefined,
  held: FactorsHeld,
): StepUp {
  if (!demand || satisfies(amr, demand)) return 'none';
  const candidates = demand.values
    .map(levelOfAcr)
    .filter((l) => l > levelOfAmr(amr))
    .sort();
  for (const level of candidates) {
    if (level === 2 && held.totp) return 'otp';
    if (level >= 2 && held.passkey) return 'passkey';
  }
  if (!demand.essential) return 'none';
  if (candidates.includes(2)) return 'enrol-otp';
  return 'deny';
}
