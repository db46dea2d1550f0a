import * as client from 'openid-client';
import type { GithubUpstreamConfig } from '../config/upstreams-schema.js';
import type { Upstream, UpstreamClaims } from './oidc-upstream.js';

interface GithubUser {
  id: number;
  login: string;
  name?: string | null;
  avatar_url?: string;
  html_url?: string;
}
interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}
interface GithubTeam {
  slug: string;
  organization?: { login?: string };
}

/** GitHub's REST API root: api.github.com for github.com, `<baseUrl>/api/v3` for GitHub Enterprise Server. */
export function githubApiUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return new URL(base).hostname === 'github.com' ? 'https://api.github.com' : `${base}/api/v3`;
}

/**
 * A GitHub upstream (OAuth 2.0, no ID token): the authorization code flow with PKCE S256 and
 * `state` through openid-client, then the user from `/user`, the primary verified email from
 * `/user/emails`, and (with `teams`) `org:team` groups from `/user/teams`. The identity is
 * GitHub's numeric user id, which survives a change of login name.
 *
 * @see https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export function createGithubUpstream(config: GithubUpstreamConfig): Upstream {
  const base = config.baseUrl.replace(/\/+$/, '');
  const api = githubApiUrl(base);
  const insecure = new URL(base).protocol === 'http:';
  const configuration = new client.Configuration(
    {
      issuer: base,
      authorization_endpoint: `${base}/login/oauth/authorize`,
      token_endpoint: `${base}/login/oauth/access_token`,
    },
    config.clientId,
    undefined,
    client.ClientSecretPost(config.clientSecret),
  );
  configuration.timeout = Math.ceil(config.timeoutMs / 1000);
  if (insecure) client.allowInsecureRequests(configuration);
  const scopes = ['read:user', 'user:email', ...(config.teams ? ['read:org'] : [])];

  async function get<T>(path: string, accessToken: string): Promise<T> {
    const res = await fetch(`${api}${path}`, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/vnd.github+json',
        'user-agent': 'Gatehouse',
      },
      signal: AbortSignal.timeout(config.timeoutMs),
      redirect: 'error',
    });
    if (res.status >= 500)
      throw Object.assign(new Error(`GitHub ${path} answered ${res.status}`), {
        name: 'UpstreamUnavailable',
      });
    if (!res.ok) throw new Error(`GitHub ${path} answered ${res.status}`);
    return (await res.json()) as T;
  }

  return {
    config,
    async begin(redirectUri) {
      const state = client.randomState();
      const codeVerifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: scopes.join(' '),
        state,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        allow_signup: 'false',
      });
      return { url, state, nonce: '', codeVerifier };
    },
    async complete(callbackUrl, expected) {
      const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: expected.codeVerifier,
        expectedState: expected.state,
        idTokenExpected: false,
      });
      const user = await get<GithubUser>('/user', tokens.access_token);
      if (typeof user.id !== 'number') throw new Error('GitHub /user has no numeric id');
      const emails = await get<GithubEmail[]>('/user/emails', tokens.access_token);
      const primary = Array.isArray(emails) ? emails.find((e) => e.primary && e.verified) : undefined;
      const claims: UpstreamClaims = {
        iss: base,
        sub: String(user.id),
        preferred_username: user.login,
        ...(user.name ? { name: user.name } : {}),
        ...(user.avatar_url ? { picture: user.avatar_url } : {}),
        ...(user.html_url ? { profile: user.html_url } : {}),
        ...(primary ? { email: primary.email, email_verified: true } : {}),
      };
      if (config.teams) {
        const teams = await get<GithubTeam[]>('/user/teams?per_page=100', tokens.access_token);
        claims.groups = (Array.isArray(teams) ? teams : [])
          .filter((t) => t.organization?.login && t.slug)
          .map((t) => `${t.organization!.login}:${t.slug}`);
      }
      return claims;
    },
  };
}
