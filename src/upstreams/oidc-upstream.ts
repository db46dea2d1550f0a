import * as client from 'openid-client';
import { importJWK } from 'jose';
import type { OidcUpstreamConfig, UpstreamConfig } from '../config/upstreams-schema.js';

/** What one authorization request to the upstream needs to remember until its callback. */
export interface UpstreamRequest {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The upstream's verified answer: the ID token's (and, when configured, userinfo's) claims. */
export type UpstreamClaims = Record<string, unknown> & { iss: string; sub: string };

/** An upstream identity provider as the sign-in round trip uses it (OpenID Connect or GitHub). */
export interface Upstream {
  readonly config: UpstreamConfig;
  /** Builds the authorization request (code flow, PKCE S256, fresh state and nonce). */
  begin(redirectUri: string): Promise<UpstreamRequest>;
  /**
   * Redeems the code in `callbackUrl` and validates the ID token (issuer, audience, signature,
   * nonce, expiry) and the state. Throws openid-client's errors on anything wrong.
   */
  complete(
    callbackUrl: URL,
    expected: { state: string; nonce: string; codeVerifier: string },
  ): Promise<UpstreamClaims>;
}

/** Discovery is fetched again after this long (JWKS are refreshed by openid-client on an unknown `kid`). */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;

/**
 * An OpenID Connect upstream through openid-client. Its discovery document is cached (a failed
 * discovery is not, so the next sign-in tries again); the JWKS cache lives in openid-client's
 * Configuration, which refetches the key set when an ID token names an unknown `kid`.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2 (S256)
 */
export function createOidcUpstream(config: OidcUpstreamConfig): Upstream {
  let cached: { at: number; configuration: Promise<client.Configuration> } | undefined;
  // http:// issuers are refused in production unless GATEHOUSE_ALLOW_INSECURE=http-upstreams
  // (config/production-safety.ts); openid-client refuses them unless told.
  const insecure = new URL(config.issuer).protocol === 'http:';

  async function discover(): Promise<client.Configuration> {
    const auth = config.privateKeyJwk
      ? client.PrivateKeyJwt({
          key: (await importJWK(
            config.privateKeyJwk as Parameters<typeof importJWK>[0],
            config.privateKeyJwk.alg as string | undefined,
          )) as CryptoKey,
          kid: typeof config.privateKeyJwk.kid === 'string' ? config.privateKeyJwk.kid : undefined,
        })
      : client.ClientSecretBasic(config.clientSecret!);
    const configuration = await client.discovery(new URL(config.issuer), config.clientId, undefined, auth, {
      timeout: Math.ceil(config.timeoutMs / 1000),
      // Non-repudiation checks: the ID token's signature is verified against the upstream's JWKS
      // even though it came straight from the token endpoint (OpenID Connect Core §3.1.3.7 would
      // allow skipping it over TLS; Gatehouse does not).
      execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
    });
    configuration.timeout = Math.ceil(config.timeoutMs / 1000);
    return configuration;
  }

  function configuration(): Promise<client.Configuration> {
    if (!cached || Date.now() - cached.at > DISCOVERY_TTL_MS) {
      const pending = discover();
      cached = { at: Date.now(), configuration: pending };
      pending.catch(() => {
        if (cached?.configuration === pending) cached = undefined;
      });
    }
    return cached.configuration;
  }

  return {
    config,
    async begin(redirectUri) {
      const c = await configuration();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const codeVerifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri,
        scope: config.scopes.join(' '),
        response_type: 'code',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url, state, nonce, codeVerifier };
    },
    async complete(callbackUrl, expected) {
      const c = await configuration();
      const tokens = await client.authorizationCodeGrant(c, callbackUrl, {
        pkceCodeVerifier: expected.codeVerifier,
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new Error('the token response carried no ID token');
      let claims: Record<string, unknown> = { ...idToken };
      if (config.fetchUserinfo) {
        const userinfo = await client.fetchUserInfo(c, tokens.access_token, idToken.sub);
        claims = { ...userinfo, ...idToken };
      }
      return claims as UpstreamClaims;
    },
  };
}
