import type { Config } from './schema.js';

export const DEMO_CLIENT_ID = 'gatehouse-demo';
export const DEMO_USERNAME = 'demo';

/** True for `$argon2id$…` and `$scrypt$…` PHC strings; anything else is a plain-text password. */
export function isPasswordHash(password: string): boolean {
  return /^\$(argon2id|argon2i|argon2d|scrypt)\$/.test(password);
}

/** True for addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Lists why this configuration must not serve production traffic, each with the opt-in that
 * overrides it. Empty outside production. Signing keys are checked when they are loaded.
 */
export function checkProductionSafety(config: Config): string[] {
  if (!config.production) return [];
  const allowed = (name: Parameters<Config['allowInsecure']['has']>[0]) =>
    config.allowInsecure.has(name) || config.allowInsecure.has('all');
  const problems: string[] = [];
  if (!config.redisUrl && !allowed('memory-store')) {
    problems.push(
      'REDIS_URL: NODE_ENV=production needs a persistent store (set REDIS_URL, or GATEHOUSE_ALLOW_INSECURE=memory-store)',
    );
  }
  config.users.forEach((user, i) => {
    if (!isPasswordHash(user.password) && !allowed('plain-passwords')) {
      problems.push(
        `users.${i}.password: plain-text passwords are refused in production (use an $argon2id$ or $scrypt$ hash, see "npm run hash-password", or GATEHOUSE_ALLOW_INSECURE=plain-passwords)`,
      );
    }
    if (user.totp && !allowed('plain-passwords')) {
      problems.push(
        `users.${i}.totp: TOTP secrets in the configuration file are refused in production, like plain-text passwords (enrol with "gatehouse-admin users enrol-totp", or GATEHOUSE_ALLOW_INSECURE=plain-passwords)`,
      );
    }
    if (user.username === DEMO_USERNAME && !allowed('demo-accounts')) {
      problems.push(
        `users.${i}.username: the demo user is refused in production (or GATEHOUSE_ALLOW_INSECURE=demo-accounts)`,
      );
    }
  });
  config.clients.forEach((client, i) => {
    if (client.client_id === DEMO_CLIENT_ID && !allowed('demo-accounts')) {
      problems.push(
        `clients.${i}.client_id: the demo client is refused in production (or GATEHOUSE_ALLOW_INSECURE=demo-accounts)`,
      );
    }
  });
  // Deliberately no opt-in: logout tokens POSTed into the private network are an SSRF door.
  if (config.backchannelLogout.allowPrivateHosts) {
    problems.push(
      'backchannelLogout.allowPrivateHosts: NODE_ENV=production never delivers logout tokens to loopback or private addresses (set it false)',
    );
  }
  if (new URL(config.issuer).protocol !== 'https:' && !allowed('http-issuer')) {
    problems.push(
      'ISSUER: NODE_ENV=production needs an https issuer (terminate TLS at a proxy and set ISSUER=https://…, or GATEHOUSE_ALLOW_INSECURE=http-issuer)',
    );
  }
  config.upstreams.forEach((upstream, i) => {
    if (upstream.type === 'ldap') {
      if (upstream.url.startsWith('ldap://') && !upstream.startTls && !allowed('plain-ldap')) {
        problems.push(
          `upstreams.${i}.url: NODE_ENV=production sends passwords to a directory only over ldaps:// or with startTls (or GATEHOUSE_ALLOW_INSECURE=plain-ldap)`,
        );
      }
      return;
    }
    const [key, address] =
      upstream.type === 'oidc' ? ['issuer', upstream.issuer] : ['baseUrl', upstream.baseUrl];
    if (new URL(address).protocol !== 'https:' && !allowed('http-upstreams')) {
      problems.push(
        `upstreams.${i}.${key}: NODE_ENV=production signs people in only through https upstreams (or GATEHOUSE_ALLOW_INSECURE=http-upstreams)`,
      );
    }
  });
  // A metrics port on a loopback address is private by placement; anything else needs the token.
  const privatePort = config.metricsPort !== undefined && isLoopback(config.metricsHost);
  if (config.metrics.enabled && !config.metricsToken && !privatePort && !allowed('open-metrics')) {
    problems.push(
      'METRICS_TOKEN: NODE_ENV=production serves /metrics only behind a bearer token (set METRICS_TOKEN, or METRICS_PORT on a loopback METRICS_HOST, or metrics.enabled false, or GATEHOUSE_ALLOW_INSECURE=open-metrics)',
    );
  }
  if (config.registration.enabled && config.registration.open && !allowed('open-registration')) {
    problems.push(
      'registration.open: NODE_ENV=production refuses registration without an initial access token (set registration.open false and create tokens with "gatehouse-admin registration-tokens create" or list them in registration.initialAccessTokens, or GATEHOUSE_ALLOW_INSECURE=open-registration)',
    );
  }
  if (config.defaultCookieKeys && !allowed('default-cookie-keys')) {
    problems.push(
      'cookies.keys: the shipped development cookie keys are refused in production (set COOKIE_KEYS, or GATEHOUSE_ALLOW_INSECURE=default-cookie-keys)',
    );
  }
  return problems;
}
