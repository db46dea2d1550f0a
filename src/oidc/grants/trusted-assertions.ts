import { createHash } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { errors, type Client } from 'oidc-provider';
import type { Config } from '../../config/schema.js';
import type { AccountStore } from '../../accounts/account-store.js';
import type { SigningKeys } from '../../keys/signing-keys.js';
import type { Store } from '../../storage/store.js';
import { mayExchangeFrom } from '../client-rights.js';

/** A verified JWT and the Gatehouse account it names. */
export interface VerifiedJwt {
  accountId: string;
  payload: JWTPayload & { exp: number };
  /** `self`: one of Gatehouse's own ID tokens; `trusted`: from one of `trustedIssuers`. */
  source: 'self' | 'trusted';
}

/**
 * Verifies JWTs presented as jwt-bearer assertions (RFC 7523) or token-exchange subject tokens
 * (RFC 8693): from a configured trusted issuer (its JWKS) or, as subject tokens only, Gatehouse's
 * own ID tokens (verified with our public keys); and resolves the Gatehouse account they name.
 *
 * A trusted issuer's JWT must carry `jti`, `iat` and `exp`, live no longer than
 * `assertions.maxLifetimeSeconds`, not be issued in the future, and is accepted once: its
 * `jti` is remembered in the store until it expires, so a replay fails on every instance.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export function createAssertionVerifier(deps: {
  config: Config;
  accounts: AccountStore;
  keys: SigningKeys;
  store: Store;
}) {
  const { config, accounts, store } = deps;
  const { maxLifetimeSeconds, clockSkewSeconds } = config.assertions;
  const tokenEndpoint = `${config.issuer}/token`;
  const issuers = new Map(
    config.trustedIssuers.map((t) => [
      t.issuer,
      {
        ...t,
        audience: t.audience ?? [config.issuer, tokenEndpoint],
        keySet: t.jwks_uri
          ? createRemoteJWKSet(new URL(t.jwks_uri))
          : createLocalJWKSet(t.jwks as unknown as JSONWebKeySet),
      },
    ]),
  );
  const ownKeys = createLocalJWKSet({
    keys: deps.keys.jwks.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub),
  } as JSONWebKeySet);

  const refuse = (why: string): never => {
    throw new errors.InvalidGrant(why);
  };

  async function verify(jwt: string, keySet: JWTVerifyGetKey, issuer: string, requiredClaims: string[]) {
    try {
      const { payload } = await jwtVerify(jwt, keySet, {
        issuer,
        requiredClaims,
        clockTolerance: clockSkewSeconds,
      });
      return payload as JWTPayload & { exp: number };
    } catch (err) {
      return refuse(`the assertion could not be verified: ${(err as Error).message}`);
    }
  }

  /** Checks a trusted issuer's JWT for the lifetime rules and remembers its jti (once only). */
  async function checkLifetimeAndReplay(payload: JWTPayload & { exp: number }) {
    const now = Math.floor(Date.now() / 1000);
    const iat = payload.iat!;
    if (typeof payload.jti !== 'string' || !payload.jti) refuse('the assertion has no jti');
    if (iat > now + clockSkewSeconds) refuse('the assertion was issued in the future (iat)');
    if (payload.exp - iat > maxLifetimeSeconds) {
      refuse(`the assertion lives longer than ${maxLifetimeSeconds} seconds (exp - iat)`);
    }
    const key = `jti:${createHash('sha256').update(`${payload.iss}\n${payload.jti}`).digest('base64url')}`;
    const ttl = Math.max(1, payload.exp - now + clockSkewSeconds);
    if (!(await store.setRecordIfAbsent(key, 1, ttl))) refuse('the assertion was already used (jti)');
  }

  async function resolveAccount(payload: JWTPayload, accountClaim: 'sub' | 'email') {
    const name = payload[accountClaim];
    const account =
      typeof name !== 'string'
        ? undefined
        : accountClaim === 'email'
          ? await accounts.findByEmail(name)
          : await accounts.findBySub(name);
    return account ? account.claims.sub : refuse('the assertion names no known account');
  }

  function headerType(jwt: string): string | undefined {
    try {
      const { typ } = decodeProtectedHeader(jwt);
      return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
    } catch {
      return refuse('the assertion is not a JWT');
    }
  }

  function trustedIssuerOf(jwt: string) {
    let iss: string | undefined;
    try {
      iss = decodeJwt(jwt).iss;
    } catch {
      return refuse('the assertion is not a JWT');
    }
    if (iss === config.issuer) return { self: true as const };
    const trusted = iss === undefined ? undefined : issuers.get(iss);
    return trusted ? { self: false as const, trusted } : refuse(`issuer "${iss ?? ''}" is not trusted`);
  }

  const audiences = (payload: JWTPayload) =>
    payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];

  /**
   * A jwt-bearer assertion: from a trusted issuer, for this issuer or its token endpoint (or the
   * issuer's configured `audience`).
   *
   * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
   */
  async function verifyAssertion(jwt: string): Promise<VerifiedJwt> {
    const found = trustedIssuerOf(jwt);
    if (found.self) return refuse('Gatehouse’s own tokens are not accepted as assertions');
    const { trusted } = found;
    const payload = await verify(jwt, trusted.keySet, trusted.issuer, ['exp', 'iat', 'jti', 'sub']);
    if (!audiences(payload).some((aud) => trusted.audience.includes(aud))) {
      refuse('the assertion is not intended for this issuer (aud)');
    }
    const accountId = await resolveAccount(payload, trusted.accountClaim);
    await checkLifetimeAndReplay(payload);
    return { accountId, payload, source: 'trusted' };
  }

  /**
   * A token-exchange subject token that is a JWT, for the calling client:
   * - one of Gatehouse's own ID tokens whose `aud` names the caller or a client the caller may
   *   exchange from (`gatehouse_may_exchange_from`);
   * - a trusted issuer's JWT whose `aud` names such a client, or whose `aud` is this issuer
   *   (or the issuer's configured `audience`) and whose `may_act` names the caller by
   *   `client_id` or `sub` (RFC 8693 §4.4).
   *
   * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.4
   */
  async function verifySubjectJwt(jwt: string, client: Client): Promise<VerifiedJwt> {
    const found = trustedIssuerOf(jwt);
    if (found.self) {
      // Gatehouse signs its JWT access tokens (RFC 9068) with the same keys: never take one for
      // an ID token. Their audience is a resource server, not a client.
      if (headerType(jwt) === 'at+jwt') {
        refuse('Gatehouse’s JWT access tokens are not accepted as subject tokens');
      }
      const payload = await verify(jwt, ownKeys, config.issuer, ['exp', 'sub', 'aud']);
      if (!audiences(payload).some((aud) => mayExchangeFrom(client, aud))) {
        refuse('subject_token was issued to a client this client may not exchange from');
      }
      const accountId = await resolveAccount(payload, 'sub');
      return { accountId, payload, source: 'self' };
    }
    const { trusted } = found;
    const payload = await verify(jwt, trusted.keySet, trusted.issuer, ['exp', 'iat', 'jti', 'sub', 'aud']);
    const auds = audiences(payload);
    const mayAct = payload.may_act as { client_id?: unknown; sub?: unknown } | undefined;
    const namedByMayAct =
      typeof mayAct === 'object' &&
      mayAct !== null &&
      (mayAct.client_id === client.clientId || mayAct.sub === client.clientId);
    const forUs = auds.some((aud) => trusted.audience.includes(aud));
    const forCaller = auds.some((aud) => mayExchangeFrom(client, aud));
    if (!forCaller && !(forUs && namedByMayAct)) {
      refuse('subject_token neither names this client in may_act nor was issued to it (aud)');
    }
    const accountId = await resolveAccount(payload, trusted.accountClaim);
    await checkLifetimeAndReplay(payload);
    return { accountId, payload, source: 'trusted' };
  }

  return { verifyAssertion, verifySubjectJwt };
}

export type AssertionVerifier = ReturnType<typeof createAssertionVerifier>;
