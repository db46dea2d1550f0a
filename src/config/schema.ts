import { z } from 'zod';
import type { RedisSettings } from './redis-url.js';
import { allowedRedirectUriProblem } from './allowed-redirect-uris.js';
import { upstreamsSchema } from './upstreams-schema.js';

/**
 * The schema of Gatehouse's configuration: `config/default.json`, with the file named by
 * `CONFIG_FILE` merged over it, and environment variables applied last (see load-config.ts).
 * Unknown keys are refused so that a typo never silently falls back to a default.
 */

const seconds = z.number().int().positive();

/** Base32 (RFC 4648 §6) with optional padding, at least 16 characters (80 bits): TOTP secrets. */
export const BASE32_SECRET = /^[A-Z2-7]{16,}=*$/;
const absoluteUrl = z.string().url();

/** RFC 7591 client metadata; oidc-provider validates the finer points when it loads the client. */
export const clientSchema = z
  .object({
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    client_name: z.string().optional(),
    redirect_uris: z.array(absoluteUrl).default([]),
    post_logout_redirect_uris: z.array(absoluteUrl).optional(),
    grant_types: z.array(z.string()).optional(),
    response_types: z.array(z.string()).optional(),
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
      .optional(),
    scope: z.string().optional(),
    application_type: z.enum(['web', 'native']).optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwks_uri: absoluteUrl.optional(),
    id_token_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
    /** OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed. */
    backchannel_logout_uri: absoluteUrl.optional(),
    /** Back-Channel Logout 1.0 §2.2: logout tokens carry `sid` (and ID tokens too). */
    backchannel_logout_session_required: z.boolean().optional(),
    /** May introspect tokens issued to other clients (RFC 7662 §2.1's protected resource). */
    gatehouse_resource_server: z.boolean().optional(),
    /** Clients whose access and ID tokens this client may present as a token-exchange subject_token. */
    gatehouse_may_exchange_from: z.array(z.string().min(1)).optional(),
    /** Every access token issued to this client must be DPoP-bound (RFC 9449 §5.2). */
    dpop_bound_access_tokens: z.boolean().optional(),
    /** `"fapi2"`: the client is held to the FAPI 2.0 Security Profile (src/oidc/fapi-profile.ts). */
    gatehouse_profile: z.enum(['fapi2']).optional(),
    /** Users signing in to this client give a second factor, enrolling first if they have none. */
    require_mfa: z.boolean().optional(),
  })
  .catchall(z.unknown())
  .refine((c) => !(c.gatehouse_resource_server && c.token_endpoint_auth_method === 'none'), {
    path: ['gatehouse_resource_server'],
    message: 'a public client (token_endpoint_auth_method "none") cannot be a resource server',
  })
  .superRefine((c, ctx) => {
    // What the FAPI 2.0 profile implies cannot be switched off for one of its clients.
    if (c.gatehouse_profile !== 'fapi2') return;
    if (c.id_token_signed_response_alg === 'RS256') {
      ctx.addIssue({
        code: 'custom',
        path: ['id_token_signed_response_alg'],
        message: `must be ES256 for a gatehouse_profile "fapi2" client (${c.client_id})`,
      });
    }
    for (const key of ['require_pushed_authorization_requests', 'dpop_bound_access_tokens'] as const) {
      if (c[key] === false) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must not be false for a gatehouse_profile "fapi2" client (${c.client_id})`,
        });
      }
    }
  });

export const userSchema = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(1),
  /**
   * Pre-enrolled TOTP secret (RFC 4648 base32; spaces ignored, case-insensitive): the user is asked
   * for a code after the password. Refused in production like plain-text passwords.
   */
  totp: z
    .string()
    .transform((s) => s.replace(/\s/g, '').toUpperCase())
    .pipe(z.string().regex(BASE32_SECRET, 'must be a base32 secret of at least 16 characters (80 bits)'))
    .optional(),
  claims: z
    .object({
      sub: z.string().min(1).max(255),
      email: z.string().optional(),
      email_verified: z.boolean().optional(),
    })
    .catchall(z.unknown()),
});

export const resourceServerSchema = z.strictObject({
  scope: z.string().min(1),
  audience: z.string().optional(),
  accessTokenTTL: seconds.optional(),
  /** `"jwt"`: RFC 9068 JWT access tokens, verifiable with /jwks alone; `"opaque"`: a handle for /introspect. */
  accessTokenFormat: z.enum(['opaque', 'jwt']).default('opaque'),
});

/**
 * A failure budget: `points` per `windowSeconds`; beyond it the key is blocked for
 * `blockSeconds`, doubling with each further failure up to `maxBlockSeconds`.
 */
const rateLimitSchema = z.strictObject({
  points: z.number().int().min(1),
  windowSeconds: z.number().int().min(1),
  blockSeconds: z.number().int().min(1),
  maxBlockSeconds: z.number().int().min(1),
});

/**
 * The failure budgets. Those keyed on a client IP (`…PerIp`, `…AndIp`) block hard; those across
 * every address (`loginPerUsername`, `clientAuthPerClient`) only slow attempts down (their
 * defaults block for seconds), so that nobody elsewhere can lock a user or client out.
 */
export const RATE_LIMIT_NAMES = [
  'loginPerUsernameAndIp',
  'loginPerUsername',
  'loginPerIp',
  'secondFactorPerUserAndIp',
  'secondFactorPerUser',
  'clientAuthPerClientAndIp',
  'clientAuthPerClient',
  'clientAuthPerIp',
  'awsRegisterClientPerIp',
  'awsStartDeviceAuthorizationPerIp',
  'registrationPerIp',
] as const;

export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

export const fileConfigSchema = z.strictObject({
  clients: z.array(clientSchema),
  users: z.array(userSchema),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token')),
  claims: z.record(z.string(), z.array(z.string())),
  ttl: z.strictObject({
    accessToken: seconds,
    authorizationCode: seconds,
    clientCredentials: seconds,
    deviceCode: seconds,
    idToken: seconds,
    refreshToken: seconds,
    interaction: seconds,
    session: seconds,
    grant: seconds,
  }),
  cookies: z.strictObject({
    keys: z.array(z.string().min(16, 'cookie keys must be at least 16 characters')).min(1),
  }),
  pkce: z.strictObject({ requiredForAllClients: z.boolean() }),
  /** Pushed authorization requests (RFC 9126): `requiredForAllClients` makes /par the only way in. */
  par: z.strictObject({ requiredForAllClients: z.boolean() }),
  deviceFlow: z.strictObject({
    interval: z.number().int().min(1).max(60),
    userCodeCharset: z.enum(['base-20', 'digits']),
    userCodeMask: z.string().regex(/^[*\- ]+$/, 'use "*" for characters and "-" or " " as separators'),
    userCodeAttemptsPerMinute: z.number().int().min(1),
  }),
  /** `"when-needed"`: no "Sign out?" page when a valid `id_token_hint` names the current session. */
  logout: z.strictObject({ confirm: z.enum(['when-needed', 'always']) }),
  /** OpenID Connect Back-Channel Logout 1.0 (see src/oidc/backchannel-logout.ts). */
  backchannelLogout: z.strictObject({
    enabled: z.boolean(),
    /** How long one logout token delivery may take before it counts as failed. */
    timeoutMs: z.number().int().min(100).max(60000),
    /** Deliver to loopback and private addresses too: for development and tests, refused in production. */
    allowPrivateHosts: z.boolean(),
  }),
  /**
   * `acr` values supported (advertised). The known ones (src/mfa/acr.ts: password, multi-factor,
   * phr) drive step-up; others an operator adds are echoed when requested.
   */
  acrValues: z.array(z.string()),
  /**
   * DPoP (RFC 9449) server nonces (§8): `"off"`, `"offered"` (a DPoP-Nonce with every DPoP
   * response; a proof may use it instead of a recent iat), `"required"` (every proof must carry one).
   */
  dpop: z.strictObject({ nonces: z.enum(['off', 'offered', 'required']) }),
  resourceServers: z.record(absoluteUrl, resourceServerSchema),
  http: z.strictObject({
    bodyLimitBytes: z.number().int().min(1024),
    /** Seconds in-flight requests get to finish after SIGTERM/SIGINT. */
    shutdownGraceSeconds: z.number().min(0).max(600),
  }),
  rateLimits: z.strictObject(
    Object.fromEntries(RATE_LIMIT_NAMES.map((name) => [name, rateLimitSchema])) as Record<
      RateLimitName,
      typeof rateLimitSchema
    >,
  ),
  metrics: z.strictObject({ enabled: z.boolean() }),
  mfa: z.strictObject({
    /**
     * `"optional"`: enrolled users give their second factor, others do not; `"required"`: every user
     * signs in with two factors, enrolling at the next sign-in (clients may require it alone: `require_mfa`).
     */
    policy: z.enum(['optional', 'required']),
    /** How recent a sign-in must be for the account page to remove a factor or replace recovery codes. */
    freshSignInSeconds: z.number().int().min(1).max(86_400),
  }),
  keys: z.strictObject({
    /** How often each instance checks the store for signing-key changes. */
    refreshSeconds: z.number().int().min(1).max(3600),
    /** How long a rotated-in key is published before it signs (longer than relying parties cache JWKS). */
    rotationPropagationSeconds: z.number().int().min(0),
  }),
  redis: z.strictObject({
    keyPrefix: z.string().max(64),
    commandTimeoutMs: z.number().int().min(50).max(60000),
    connectTimeoutMs: z.number().int().min(50).max(60000),
    /**
     * Replicas that must acknowledge (WAIT) each single-use write before it counts; null: 1 on
     * redis-sentinel:// and redis-cluster://, 0 on redis:// (see storage/replica-acks.ts).
     */
    consumeAckReplicas: z.number().int().min(0).max(16).nullable(),
    /** How long a single-use write waits for those acknowledgements before failing closed (503). */
    consumeAckTimeoutMs: z.number().int().min(10).max(60000),
  }),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
  aws: z
    .strictObject({
      enabled: z.boolean(),
      registrationLifetimeSeconds: seconds,
      /** How long a registration lives until its first successful token (then registrationLifetimeSeconds). */
      unusedRegistrationLifetimeSeconds: seconds,
      /** Registrations accepted per hour from all callers together (SlowDownException beyond). */
      maxRegistrationsPerHour: z.number().int().min(1),
      /** Redirect URI prefixes (https) or schemes (`com.example.app:`) allowed besides loopback. */
      allowedRedirectUris: z.array(
        z.string().superRefine((entry, ctx) => {
          const problem = allowedRedirectUriProblem(entry);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      ),
      defaultScopes: z.array(z.string()).min(1),
      /** The region whose SigV4 signatures CreateTokenWithIAM accepts. */
      region: z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+$/, 'not an AWS region name (e.g. us-east-1)'),
      /** Access keys whose SigV4 signatures CreateTokenWithIAM accepts. */
      iamAccessKeys: z.array(
        z.strictObject({ accessKeyId: z.string().min(16), secretAccessKey: z.string().min(16) }),
      ),
      /** The polling interval StartDeviceAuthorization advertises and CreateToken holds device polls to. */
      deviceIntervalSeconds: z.number().int().min(1).max(60),
      /** Access-token lifetime for RegisterClient clients that get refresh tokens, and the rest of the AWS API's tokens. */
      accessTokenSeconds: seconds,
      /** Access-token lifetime for RegisterClient clients that registered no scopes (no refresh token, as AWS's legacy sessions). */
      accessTokenWithoutRefreshSeconds: seconds,
      /** How long a redeemed device code polled again by its own client is answered without revoking its tokens (0: never). */
      redeemedRetryGraceSeconds: z.number().int().min(0).max(60),
    })
    .refine((aws) => aws.unusedRegistrationLifetimeSeconds <= aws.registrationLifetimeSeconds, {
      path: ['unusedRegistrationLifetimeSeconds'],
      message: 'must not be longer than aws.registrationLifetimeSeconds',
    }),
  /** Dynamic client registration at /register (RFC 7591) and management (RFC 7592). */
  registration: z
    .strictObject({
      enabled: z.boolean(),
      /** true: anyone may register without an initial access token (GATEHOUSE_ALLOW_INSECURE=open-registration in production). */
      open: z.boolean(),
      /** Initial access tokens accepted besides those `gatehouse-admin registration-tokens create` stores. */
      initialAccessTokens: z.array(
        z.string().min(20, 'initial access tokens must be at least 20 characters'),
      ),
      /** Registrations accepted per hour from all callers together (429 slow_down beyond). */
      maxRegistrationsPerHour: z.number().int().min(1),
    })
    .refine((r) => !(r.open && r.initialAccessTokens.length > 0), {
      path: ['open'],
      message:
        'open registration needs no initial access tokens: set open false or remove initialAccessTokens',
    }),
  /** Rules for JWTs from trustedIssuers (jwt-bearer assertions, token-exchange subject tokens). */
  assertions: z.strictObject({
    /** Longest accepted `exp - iat`; longer-lived assertions are refused. */
    maxLifetimeSeconds: seconds,
    /** Clock difference tolerated for `exp`, `nbf` and `iat` in the future. */
    clockSkewSeconds: z.number().int().min(0).max(300),
  }),
  /** Issuers whose JWTs are accepted as jwt-bearer assertions and token-exchange subject tokens. */
  trustedIssuers: z.array(
    z
      .strictObject({
        issuer: z.string().min(1),
        jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
        jwks_uri: absoluteUrl.optional(),
        /** Which claim of the JWT names the Gatehouse user: its `sub` or its `email`. */
        accountClaim: z.enum(['sub', 'email']).default('sub'),
        /** Accepted `aud` values; default: this issuer and its token endpoint (RFC 7523 §3). */
        audience: z.array(z.string().min(1)).optional(),
      })
      .refine((t) => !!t.jwks !== !!t.jwks_uri, 'give exactly one of jwks or jwks_uri'),
  ),
  /** Upstream identity providers people may sign in through (src/upstreams/, README "Upstream identity providers"). */
  upstreams: upstreamsSchema,
  allowInsecure: z.array(z.enum(insecureOptIns())),
});

/**
 * Names accepted by `allowInsecure` / `GATEHOUSE_ALLOW_INSECURE`: production opt-ins (`all`
 * covers those), and `test-mode-shared-store`, which `all` does not cover: test mode on Redis is
 * checked whatever NODE_ENV says and must be asked for by name.
 */
export function insecureOptIns() {
  return [
    'memory-store',
    'dev-keys',
    'plain-passwords',
    'demo-accounts',
    'default-cookie-keys',
    'http-issuer',
    'open-metrics',
    'open-registration',
    'http-upstreams',
    'plain-ldap',
    'test-mode-shared-store',
    'all',
  ] as const;
}

export type InsecureOptIn = ReturnType<typeof insecureOptIns>[number];
export type FileConfig = z.infer<typeof fileConfigSchema>;
export type ClientConfig = z.infer<typeof clientSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type ResourceServerConfig = z.infer<typeof resourceServerSchema>;

/** The whole, validated configuration the rest of the program receives. */
export interface Config extends Omit<FileConfig, 'allowInsecure'> {
  port: number;
  issuer: string;
  redisUrl: string | undefined;
  /** REDIS_URL parsed; undefined selects the in-memory store. */
  redisConnection: RedisSettings | undefined;
  nodeEnv: string;
  production: boolean;
  /** Worker processes sharing the port (WORKERS; "auto" = one per CPU). */
  workers: number;
  /** `test`: the test-IdP mode (any user signs in, the /_test API); never in production. */
  mode: 'standard' | 'test';
  /** TRUST_PROXY: how many reverse proxies' X-Forwarded-For entries to trust for the client IP (0: none). */
  trustProxy: number;
  /** METRICS_TOKEN: the bearer token /metrics requires, if any. */
  metricsToken: string | undefined;
  /** METRICS_PORT: serve /metrics on this port (on `metricsHost`) instead of the main one. */
  metricsPort: number | undefined;
  /** METRICS_HOST: the address the metrics port binds (default 127.0.0.1). */
  metricsHost: string;
  /** TEST_API_TOKEN: the bearer token every /_test request requires in test mode, if any. */
  testApiToken: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  allowInsecure: ReadonlySet<InsecureOptIn>;
  /** True when cookie keys are still the ones shipped in config/default.json. */
  defaultCookieKeys: boolean;
}
