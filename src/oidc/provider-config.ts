import type { Context } from 'koa';
import { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { Views } from '../http/views.js';
import type { AccountStore } from '../accounts/account-store.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { createFindAccount } from './find-account.js';
import { findUpstreamLogin } from '../accounts/upstream-logins.js';
import {
  endSessionWithoutConfirmation,
  formAction,
  hiddenFieldValue,
  idTokenHintMatchesSession,
} from './internals.js';
import { toProviderClient } from './clients.js';
import { isAwsClient } from './aws-clients.js';
import { willIssueRefreshToken } from './refresh-token-policy.js';
import { deviceApprovalCheck } from './device-approval.js';
import { buildDPoPFeature } from './dpop.js';
import { createLoadExistingGrant, restrictClaimsToConsentedScopes } from './claims-parameter.js';
import { accessTokenLifetime } from './aws-token-lifetime.js';
import { GATEHOUSE_CLIENT_METADATA, isResourceServer, validateClientMetadata } from './client-rights.js';
import { HASHED_TOKEN_MODELS, hashTokenIds } from './hashed-tokens.js';
import { isRegisteredClient, REGISTERED_CLIENT_METADATA } from './registered-clients.js';
import { applyRegistrationPolicy } from './registration-policy.js';
import { REGISTRATION_PATH, registrationFeatures } from './registration.js';
import { authorizationCodeTtl, fapiProfile, isFapi2Client } from './fapi-profile.js';
import {
  buildPushedRequestFeatures,
  buildRequestObjectFeatures,
  REQUEST_OBJECT_SIGNING_ALGS,
} from './pushed-requests.js';
import type { BackchannelLogout } from './backchannel-logout.js';
import { accountClient } from './account-client.js';
import { mfaRequiredCheck } from './mfa-policy.js';
import { addAcrStepUpCheck } from './acr-policy.js';
import { createFactorAvailability } from '../mfa/factor-availability.js';

export interface ProviderConfigDeps {
  config: Config;
  store: Store;
  views: Views;
  accounts: AccountStore;
  keys: SigningKeys;
  /** The shared secret DPoP nonces derive from; present when `dpop.nonces` is not "off". */
  dpopNonceSecret?: Buffer;
  devicePages: NonNullable<NonNullable<Configuration['features']>['deviceFlow']> & object;
  backchannelLogout: BackchannelLogout;
}

/** The provider's scopes: configured ones plus the resource servers' (so client metadata may name them). */
export function supportedScopes(config: Config): string[] {
  return [
    ...new Set([
      ...config.scopes,
      // The `groups` scope releases the groups upstreams report (src/upstreams/).
      ...(config.upstreams.some((u) => u.groupsClaim) ? ['groups'] : []),
      ...Object.values(config.resourceServers).flatMap((server) => server.scope.split(' ')),
    ]),
  ];
}

/**
 * Cookie names and options. With an https issuer (which never has a path) the session cookie is
 * `__Host-session`: browsers then accept it only with `Secure`, `Path=/` and no `Domain`, so no
 * sibling subdomain or plain-http page can set or shadow it. The interaction cookies keep their
 * names: oidc-provider scopes them to `/interaction/<uid>` and `/authorize/<uid>` paths, which the
 * `__Host-` prefix forbids.
 *
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2
 */
export function sessionCookies(config: Config): NonNullable<Configuration['cookies']> {
  const https = new URL(config.issuer).protocol === 'https:';
  return {
    keys: [...config.cookies.keys],
    names: {
      session: https ? '__Host-session' : '_session',
      interaction: '_interaction',
      resume: '_interaction_resume',
    },
    long: { signed: true, httpOnly: true, sameSite: 'lax', ...(https ? { secure: true, path: '/' } : {}) },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  };
}

/** Human-readable messages for the error page, by OAuth error code. */
const ERROR_MESSAGES: Record<string, string> = {
  invalid_request: 'The request was not valid.',
  invalid_client: 'The application making this request is not known.',
  invalid_redirect_uri: 'The application sent an address that is not registered.',
  access_denied: 'Access was denied.',
  login_required: 'You need to sign in.',
  temporarily_unavailable: 'The service is temporarily unavailable. Try again in a moment.',
  server_error: 'Something went wrong on our side.',
};

/**
 * Builds oidc-provider's configuration from Gatehouse's: endpoints on our paths, the grants and
 * response types we allow, PKCE policy, TTLs, our pages, and the store as adapter.
 *
 * @see https://github.com/panva/node-oidc-provider/blob/main/docs/README.md
 */
export function buildProviderConfiguration(deps: ProviderConfigDeps): Configuration {
  const { config, store, views, accounts, keys } = deps;
  const awsAwareLifetime = accessTokenLifetime(config);
  const policy = interactionPolicy.base();
  // prompt=select_account is requestable: it shows the sign-in page so another account can be chosen.
  policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0);
  // Device-flow logins always end on the device approval page (device-approval.ts).
  policy.get('consent')?.checks.add(deviceApprovalCheck());
  // Clients and policies that need two factors send one-factor sessions back to sign in.
  policy.get('login')?.checks.add(mfaRequiredCheck(config));
  // acr_values / an essential acr claim step up, or refuse (acr-policy.ts).
  addAcrStepUpCheck(policy, config, createFactorAvailability(store, config.users));
  restrictClaimsToConsentedScopes(policy, config.claims);

  const renderPage = (
    ctx: KoaContextWithOIDC,
    name: string,
    data: Record<string, unknown> & { title: string },
  ) => views.render(ctx as unknown as Context, name, data);

  return {
    // Registration credentials are stored under their hash (hashed-tokens.ts).
    adapter: (name: string) =>
      HASHED_TOKEN_MODELS.has(name)
        ? hashTokenIds(
            store.adapter(name),
            name === 'InitialAccessToken' ? config.registration.initialAccessTokens : [],
          )
        : store.adapter(name),
    // The configured clients, and the account page's own (src/oidc/account-client.ts).
    clients: [...config.clients.map(toProviderClient), accountClient(config.issuer)],
    findAccount: createFindAccount(
      accounts,
      config.upstreams.length ? (sub, loginTs) => findUpstreamLogin(store, sub, loginTs) : undefined,
    ),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: sessionCookies(config),
    // ID tokens say how the user signed in: `amr` (RFC 8176) and `acr` ride with the openid scope.
    claims: {
      ...(config.upstreams.some((u) => u.groupsClaim) ? { groups: ['groups'] } : {}),
      ...Object.fromEntries(
        Object.entries(config.claims).map(([scope, claims]) => [
          scope,
          scope === 'openid' ? [...new Set([...claims, 'acr', 'amr'])] : [...claims],
        ]),
      ),
    },
    // upstream_hint picks the upstream identity provider to sign in through (src/upstreams/).
    extraParams: config.upstreams.length ? ['upstream_hint'] : [],
    scopes: supportedScopes(config),
    acrValues: [...config.acrValues],
    responseTypes: ['code', 'id_token', 'code id_token'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: {
      // Clients registered anonymously through the AWS API prove nothing with their secret
      // (whoever registered holds it), so a code must be bound to its requester like a public
      // client's; with a code_challenge on every code, /token requires the verifier too.
      // The same holds for clients registered at /register, and FAPI 2.0 clients must use it as
      // well (FAPI 2.0 §5.3; this replaces oidc-provider's default).
      required: (_ctx, client) =>
        config.pkce.requiredForAllClients ||
        client.clientAuthMethod === 'none' ||
        isAwsClient(client) ||
        isRegisteredClient(client) ||
        isFapi2Client(client),
    },
    // The client's grant, plus the `claims` parameter's claims its scopes already cover.
    loadExistingGrant: createLoadExistingGrant(config.claims),
    // Refresh tokens only for offline_access (AWS clients: registered scopes), rotated on every use; reuse revokes the grant.
    issueRefreshToken: async (_ctx, client, code) => willIssueRefreshToken(client, code.scopes),
    extraClientMetadata: {
      properties: [...GATEHOUSE_CLIENT_METADATA],
      validator: (ctx, key, _value, metadata) => {
        const record = metadata as unknown as Record<string, unknown>;
        // Self-registration rules first: they may set Gatehouse's markers (registration-policy.ts).
        if (key === REGISTERED_CLIENT_METADATA) applyRegistrationPolicy(ctx, record);
        validateClientMetadata(key, record[key], record);
        // The validator runs for each of our own members, present or not, whenever a client is
        // loaded or registered: the first call is the one place to check a standard member too.
        if (key === GATEHOUSE_CLIENT_METADATA[0]) {
          const problem = deps.backchannelLogout.uriProblem(record.backchannel_logout_uri);
          if (problem) throw new errors.InvalidClientMetadata(problem);
        }
      },
    },
    // Outgoing requests (logout tokens, client jwks_uri): see backchannel-logout.ts.
    fetch: deps.backchannelLogout.fetch,
    rotateRefreshToken: true,
    conformIdTokenClaims: true,
    ttl: {
      // A resource server's own accessTokenTTL wins (oidc-provider's defaults do the same; a plain
      // number here would silently ignore it).
      // Otherwise ttl.accessToken, or AWS's lifetimes for AWS clients and the AWS API (aws-token-lifetime.ts).
      AccessToken: (ctx, token, client) =>
        token.resourceServer?.accessTokenTTL ?? awsAwareLifetime(ctx, token, client),
      AuthorizationCode: (_ctx, _code, client) => authorizationCodeTtl(config.ttl.authorizationCode, client),
      ClientCredentials: (_ctx, token) =>
        token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
      DeviceCode: config.ttl.deviceCode,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Interaction: config.ttl.interaction,
      Session: config.ttl.session,
      Grant: config.ttl.grant,
    },
    routes: {
      authorization: '/authorize',
      token: '/token',
      userinfo: '/userinfo',
      jwks: '/jwks',
      revocation: '/revoke',
      introspection: '/introspect',
      end_session: '/logout',
      device_authorization: '/device_authorization',
      code_verification: '/device',
      registration: REGISTRATION_PATH,
      pushed_authorization_request: '/par',
    },
    enabledJWA: { requestObjectSigningAlgValues: [...REQUEST_OBJECT_SIGNING_ALGS] },
    interactions: {
      policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    clientBasedCORS: (_ctx, origin, client) =>
      (client.redirectUris ?? []).some((uri) => {
        try {
          return new URL(uri).origin === origin;
        } catch {
          return false; // an unparsable redirect URI allows no origin
        }
      }),
    features: {
      devInteractions: { enabled: false },
      ...buildPushedRequestFeatures(config),
      ...buildRequestObjectFeatures(),
      // FAPI 2.0 for the clients registered with "gatehouse_profile": "fapi2" (fapi-profile.ts).
      fapi: { enabled: true, profile: fapiProfile },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client sees its own tokens; only those the operator marked as resource servers see
        // others'. Any other token answers exactly {"active":false} (RFC 7662 §2.2), so a client
        // cannot even learn whether another's token exists.
        allowedPolicy: (_ctx, client, token) =>
          token.clientId === client.clientId || isResourceServer(client),
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it, and an authenticated client
        // presenting another's token is refused with an error. A public client proved nothing about
        // itself, so it learns nothing either: its request is answered 200 and ignored.
        allowedPolicy: (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      // The `claims` request parameter (OIDC Core §5.5): individual claims for the ID token or
      // /userinfo, released only within the scopes the user consented to (claims-parameter.ts).
      claimsParameter: { enabled: true },
      // Dynamic client registration (RFC 7591/7592), off unless registration.enabled.
      ...registrationFeatures(config),
      // Back-Channel Logout 1.0: logout tokens to the session's clients when it ends, delivered in
      // the background (internals.ts sendBackchannelLogoutsInBackground, backchannel-logout.ts).
      backchannelLogout: { enabled: config.backchannelLogout.enabled },
      // DPoP (RFC 9449): see dpop.ts (binding, replay, nonces).
      dPoP: buildDPoPFeature(config, deps.dpopNonceSecret),
      deviceFlow: {
        enabled: true,
        charset: config.deviceFlow.userCodeCharset,
        mask: config.deviceFlow.userCodeMask,
        ...deps.devicePages,
      },
      rpInitiatedLogout: {
        enabled: true,
        // RP-Initiated Logout 1.0 §2: ask only when the request may not come from the session's
        // own relying party. A verified id_token_hint for this very session is that proof; then
        // sign out as the page's "Sign out" button would, without the page.
        logoutSource: async (ctx, form) => {
          if (config.logout.confirm === 'when-needed' && idTokenHintMatchesSession(ctx)) {
            await endSessionWithoutConfirmation(ctx);
            return;
          }
          renderPage(ctx, 'logout', {
            title: 'Sign out',
            host: new URL(config.issuer).host,
            action: formAction(form, '/logout/confirm'),
            xsrf: hiddenFieldValue(form, 'xsrf'),
          });
        },
        // "Cancel, stay signed in" also ends here (signed out of the client that asked, if any):
        // without a client, say whether the browser is in fact still signed in.
        postLogoutSuccessSource: async (ctx) => {
          const client = ctx.oidc.client;
          const stillSignedIn = !client && !!(await ctx.oidc.provider.Session.get(ctx)).accountId;
          renderPage(ctx, 'logout-success', {
            title: stillSignedIn ? 'Still signed in' : 'Signed out',
            stillSignedIn,
            clientName: client?.clientName,
          });
        },
      },
      resourceIndicators: {
        enabled: true,
        // Without a resource parameter, tokens are for /userinfo (the default behaviour).
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          const server = config.resourceServers[resourceIndicator];
          if (!server) throw new errors.InvalidTarget();
          return {
            scope: server.scope,
            audience: server.audience ?? resourceIndicator,
            // "jwt": RFC 9068 (typ at+jwt), signed with the provider's keys and never stored, so
            // /introspect and /revoke know nothing of it; see the README's JWT access tokens.
            accessTokenFormat: server.accessTokenFormat,
            ...(server.accessTokenTTL !== undefined ? { accessTokenTTL: server.accessTokenTTL } : {}),
          };
        },
      },
    },
    renderError: (ctx, out, error) => {
      const code = String(out.error ?? 'server_error');
      const status = (error as { status?: number }).status ?? ctx.status;
      renderPage(ctx, 'error', {
        title: 'Something went wrong',
        message: ERROR_MESSAGES[code] ?? 'The request could not be completed.',
        error: code,
        description: out.error_description,
        requestId: ctx.state.requestId,
      });
      ctx.status = status >= 400 ? status : 400;
    },
  };
}
