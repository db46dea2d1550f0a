// What every target shares: clients, users, cookie keys, and the configuration files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const REDIRECT_URI = 'https://rp.bench.example/callback';
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const PASSWORD = 'correct horse battery staple';
export const COOKIE_KEYS = ['gatehouse-bench-cookie-key-0001', 'gatehouse-bench-cookie-key-0002'];

/** The bench's clients, registered identically at Gatehouse and at the baseline. */
export const CLIENTS = [
  {
    client_id: 'bench-web',
    client_secret: 'bench-web-secret-0123456789abcdef',
    client_name: 'Bench web app (RS256 ID tokens)',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
    id_token_signed_response_alg: 'RS256',
  },
  {
    client_id: 'bench-web-es256',
    client_secret: 'bench-web-es256-secret-0123456789ab',
    client_name: 'Bench web app (ES256 ID tokens)',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
    id_token_signed_response_alg: 'ES256',
  },
  {
    client_id: 'bench-service',
    client_secret: 'bench-service-secret-0123456789abc',
    client_name: 'Bench service (client credentials, introspection)',
    redirect_uris: [],
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: 'bench-device',
    client_name: 'Bench device (public)',
    application_type: 'native',
    redirect_uris: [],
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    response_types: [],
    token_endpoint_auth_method: 'none',
    scope: 'openid profile offline_access',
  },
];

export const secretOf = (clientId) => CLIENTS.find((c) => c.client_id === clientId).client_secret;

/** `Authorization: Basic` for a bench client (RFC 6749 §2.3.1 form-encodes both parts). */
export const basicAuth = (clientId) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secretOf(clientId))}`).toString('base64')}`;

const CLAIMS = {
  email: 'bench@example.com',
  email_verified: true,
  name: 'Bench User',
  given_name: 'Bench',
  family_name: 'User',
  preferred_username: 'bench',
  locale: 'en',
};

/** The user, with an argon2id hash (production) or the plain password (the comparison run). */
export function benchUser(password, username = 'bench', sub = 'bench-user-0001') {
  return { username, password, claims: { sub, ...CLAIMS } };
}

/**
 * Writes Gatehouse's CONFIG_FILE: the bench clients and user over config/default.json. All load
 * comes from one IP, so the per-IP request quotas of the AWS API's unauthenticated operations
 * (20 and 30 a minute by default) and the global RegisterClient cap are raised, and bench-service
 * is marked as a resource server (gatehouse_resource_server) for the introspection scenario; every
 * other setting is the shipped default, plus `extra` (e.g. the `redis` section of the
 * acknowledged-consume target).
 */
export function writeGatehouseConfig(dir, name, user, extra = {}) {
  const unlimited = { points: 1_000_000_000, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 };
  const file = join(dir, `${name}.json`);
  const config = {
    // bench-service introspects bench-web's tokens: Gatehouse lets only clients marked as resource
    // servers see other clients' tokens (the baseline's oidc-provider lets any confidential one).
    clients: CLIENTS.map((c) =>
      c.client_id === 'bench-service' ? { ...c, gatehouse_resource_server: true } : c,
    ),
    users: [user],
    rateLimits: { awsRegisterClientPerIp: unlimited, awsStartDeviceAuthorizationPerIp: unlimited },
    // The global RegisterClient cap (1000 an hour by default) too, so aws-register-client
    // measures registration, not refusals.
    aws: { maxRegistrationsPerHour: 1_000_000_000 },
    ...extra,
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/** The environment Gatehouse runs with "as in production". */
export function gatehouseEnv({ port, redisUrl, configFile, workers, allowInsecure }) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    REDIS_URL: redisUrl,
    CONFIG_FILE: configFile,
    LOG_LEVEL: 'warn',
    COOKIE_KEYS: COOKIE_KEYS.join(','),
    WORKERS: String(workers),
    // No TLS on the loopback bench: the only opt-in ("http-issuer"), plus plain-text passwords for
    // the comparison run.
    GATEHOUSE_ALLOW_INSECURE: allowInsecure.join(','),
    // Production serves /metrics only behind a token; metrics stay on, as in production.
    METRICS_TOKEN: 'bench-metrics-token-0123456789',
  };
}
