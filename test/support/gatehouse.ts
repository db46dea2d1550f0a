import type { Logger } from 'pino';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';

/** Clients every integration test can rely on. Secrets are test values only. */
export const TEST_CLIENTS = {
  web: {
    client_id: 'web-app',
    client_secret: 'web-app-secret-0123456789',
    client_name: 'Web App',
    redirect_uris: ['https://rp.example.com/cb'],
    post_logout_redirect_uris: ['https://rp.example.com/logged-out'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email address phone offline_access',
  },
  post: {
    client_id: 'post-app',
    client_secret: 'post-app-secret-0123456789',
    redirect_uris: ['https://post.example.com/cb'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_post',
  },
  spa: {
    client_id: 'spa',
    client_name: 'Single-page app',
    redirect_uris: ['https://spa.example.com/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    scope: 'openid profile email offline_access',
  },
  hybrid: {
    client_id: 'hybrid-app',
    client_secret: 'hybrid-app-secret-0123456789',
    redirect_uris: ['https://hybrid.example.com/cb'],
    grant_types: ['authorization_code', 'implicit'],
    response_types: ['code', 'id_token', 'code id_token'],
  },
  service: {
    client_id: 'service',
    client_secret: 'service-secret-0123456789',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api:read api:write',
    // A resource server: it may introspect tokens issued to other clients.
    gatehouse_resource_server: true,
  },
  device: {
    client_id: 'tv-app',
    client_name: 'Living-room TV',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'none',
    scope: 'openid profile email offline_access',
  },
} as const;

export const TEST_USERS = {
  alice: {
    username: 'alice',
    password: 'correct horse battery staple',
    claims: {
      sub: 'alice-0001',
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
    },
  },
  bob: {
    username: 'bob',
    password: 'hunter2-hunter2', // stored as BOB_SCRYPT below
    claims: { sub: 'bob-0002', email: 'bob@example.com', email_verified: false, name: 'Bob' },
  },
} as const;

export const RESOURCE = 'https://api.example.com';

/** The device flow with a 1 s polling interval, so tests need not wait 5 s between polls. */
export const FAST_DEVICE_FLOW = {
  interval: 1,
  userCodeCharset: 'base-20',
  userCodeMask: '****-****',
  userCodeAttemptsPerMinute: 5,
};

const generous = { points: 100000, windowSeconds: 60, blockSeconds: 1, maxBlockSeconds: 1 };
export const GENEROUS_RATE_LIMITS = {
  loginPerUsernameAndIp: generous,
  loginPerUsername: generous,
  loginPerIp: generous,
  secondFactorPerUserAndIp: generous,
  secondFactorPerUser: generous,
  clientAuthPerClientAndIp: generous,
  clientAuthPerClient: generous,
  clientAuthPerIp: generous,
  awsRegisterClientPerIp: generous,
  awsStartDeviceAuthorizationPerIp: generous,
  registrationPerIp: generous,
};

export interface StartOptions {
  overrides?: Record<string, unknown>;
  env?: Record<string, string>;
  /** A logger to read what Gatehouse logs (default: its own, at TEST_LOG_LEVEL or silent). */
  logger?: Logger;
  /** The port to listen on (default: a free one). */
  port?: number;
}

/**
 * Starts Gatehouse on a free port with the test clients and users on the in-memory store.
 * The issuer is the real listening URL so relying parties can use discovery.
 */
export async function startTestGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  return startGatehouse({
    port: options.port ?? 0,
    host: '127.0.0.1',
    logger: options.logger,
    env: { NODE_ENV: 'test', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...options.env },
    overrides: {
      clients: Object.values(TEST_CLIENTS),
      users: [TEST_USERS.alice, { ...TEST_USERS.bob, password: BOB_SCRYPT }],
      resourceServers: { [RESOURCE]: { scope: 'api:read api:write' } },
      acrValues: ['urn:gatehouse:loa:1'],
      // Suites that fail on purpose must not trip the limits; test/integration/rate-limits tests them.
      rateLimits: GENEROUS_RATE_LIMITS,
      ...options.overrides,
    },
  });
}

/** "hunter2-hunter2" hashed as $scrypt$ln=14,r=8,p=1 (salt "saltsaltsaltsalt"). */
export const BOB_SCRYPT =
  '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ItQDDEZ0s8hzsOiY7tR5nfPN9mqiWY6DsFocpC2SriQ';
