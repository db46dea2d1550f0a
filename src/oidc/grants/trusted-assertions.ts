import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { errors } from 'oidc-provider';
import type { Config } from '../../config/schema.js';
import type { AccountStore } from '../../accounts/account-store.js';
import type { SigningKeys } from '../../keys/signing-keys.js';

/**
 * Verifies JWTs presented as jwt-bearer assertions (RFC 7523) or token-exchange subject tokens
 * (RFC 8693): from a configured trusted issuer (its JWKS) or from Gatehouse itself (our own
 * ID tokens, verified with our public keys), and resolves the Gatehouse account they name.
 */
export function createAssertionVerifier(deps: { config: Config; accounts: AccountStore; keys: SigningKeys }) {
  const { config, accounts } = deps;
  const tokenEndpoint = `${config.issuer}/token`;
  const issuers = new Map(
    config.trustedIssuers.map((t) => [
      t.issuer,
      {
        ...t,
        keySet: t.jwks_uri
          ? createRemoteJWKSet(new URL(t.jwks_uri))
          : createLocalJWKSet(t.jwks as unknown as JSONWebKeySet),
      },
    ]),
  );
  const ownKeys = createLocalJWKSet({
    keys: deps.keys.jwks.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub),
  } as JSONWebKeySet);

  /**
   * @param audiences for our own ID tokens: the client ids allowed as `aud`
   * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
   */
  return async function verifyAssertion(
    jwt: string,
    ownTokenAudience?: string,
  ): Promise<{ accountId: string; payload: JWTPayload }> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(jwt);
    } catch {
      throw new errors.InvalidGrant('the assertion is not a JWT');
    }
    const iss = unverified.iss ?? '';
    let payload: JWTPayload;
    let accountClaim: 'sub' | 'email' = 'sub';
    try {
      if (iss === config.issuer) {
        if (!ownTokenAudience) throw new Error('own tokens are not accepted here');
        ({ payload } = await jwtVerify(jwt, ownKeys, {
          issuer: config.issuer,
          audience: ownTokenAudience,
          requiredClaims: ['exp', 'sub'],
        }));
      } else {
        const trusted = issuers.get(iss);
        if (!trusted) throw new Error(`issuer "${iss}" is not trusted`);
        accountClaim = trusted.accountClaim;
        ({ payload } = await jwtVerify(jwt, trusted.keySet, {
          issuer: trusted.issuer,
          audience: trusted.audience ?? [config.issuer, tokenEndpoint],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: 15,
        }));
      }
    } catch (err) {
      throw new errors.InvalidGrant(`the assertion could not be verified: ${(err as Error).message}`);
    }
    const name = payload[accountClaim];
    const account =
      typeof name !== 'string'
        ? undefined
        : accountClaim === 'email'
          ? await accounts.findByEmail(name)
          : await accounts.findBySub(name);
    if (!account) throw new errors.InvalidGrant('the assertion names no known account');
    return { accountId: account.claims.sub, payload };
  };
}

export type AssertionVerifier = ReturnType<typeof createAssertionVerifier>;
