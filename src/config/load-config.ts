import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { fileConfigSchema, insecureOptIns, type Config, type InsecureOptIn } from './schema.js';
import { mergeConfig } from './merge-config.js';
import { parseRedisUrl, type RedisSettings } from './redis-url.js';
import { checkProductionSafety } from './production-safety.js';
import { ACCOUNT_CLIENT_ID } from './reserved-ids.js';

/** Thrown for any configuration problem; its message names the offending key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../config/default.json', import.meta.url));

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  ISSUER: z.string().url().optional(),
  REDIS_URL: z.string().optional(),
  CONFIG_FILE: z.string().optional(),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  COOKIE_KEYS: z.string().optional(),
  GATEHOUSE_ALLOW_INSECURE: z.string().optional(),
  GATEHOUSE_MODE: z.enum(['standard', 'test']).optional(),
  METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  TEST_API_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** Comma-separated; replaces the file's `registration.initialAccessTokens`. */
  REGISTRATION_TOKENS: z.string().optional(),
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|[0-9]+)$/, 'expected true, false or the number of proxies in front')
    .optional(),
  WORKERS: z
    .string()
    .regex(/^(auto|[1-9][0-9]*)$/, 'expected a positive whole number or "auto"')
    .optional(),
});

export interface LoadConfigOptions {
  /** Environment to read; main passes process.env. */
  env?: Record<string, string | undefined>;
  /** An object merged over the files, for programmatic use and tests. */
  overrides?: Record<string, unknown>;
  /** Overrides GATEHOUSE_MODE. */
  mode?: 'standard' | 'test';
}

/**
 * Builds the one frozen configuration object: `config/default.json`, then `CONFIG_FILE`, then
 * `overrides`, then environment variables; validated as a whole.
 *
 * This module is the only reader of process.env in the program.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = parseOrThrow(envSchema, options.env ?? process.env, 'environment variable');
  let raw = readJson(DEFAULT_CONFIG_PATH);
  if (env.CONFIG_FILE) raw = mergeConfig(raw, readJson(env.CONFIG_FILE));
  if (options.overrides) raw = mergeConfig(raw, options.overrides);
  if (env.REGISTRATION_TOKENS !== undefined) {
    const tokens = env.REGISTRATION_TOKENS.split(',').map((t) => t.trim());
    raw = mergeConfig(raw, { registration: { initialAccessTokens: tokens.filter(Boolean) } });
  }

  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  const file = parseOrThrow(fileConfigSchema, substituteIssuer(raw, issuer), 'config');
  if (new URL(issuer).pathname !== '/') {
    throw new ConfigError('ISSUER: must be an origin without a path (e.g. https://id.example.com)');
  }

  const allowInsecure = new Set<InsecureOptIn>(file.allowInsecure);
  for (const name of (env.GATEHOUSE_ALLOW_INSECURE ?? '').split(',').map((s) => s.trim())) {
    if (!name) continue;
    if (!(insecureOptIns() as readonly string[]).includes(name)) {
      throw new ConfigError(
        `GATEHOUSE_ALLOW_INSECURE: unknown value "${name}" (expected ${insecureOptIns().join(', ')})`,
      );
    }
    allowInsecure.add(name as InsecureOptIn);
  }

  const defaultCookieKeys = readJson(DEFAULT_CONFIG_PATH) as { cookies: { keys: string[] } };
  const cookieKeys = env.COOKIE_KEYS
    ? env.COOKIE_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean)
    : file.cookies.keys;
  if (cookieKeys.some((k) => k.length < 16)) {
    throw new ConfigError('COOKIE_KEYS: every key must be at least 16 characters');
  }

  let redisConnection: RedisSettings | undefined;
  if (env.REDIS_URL) {
    try {
      redisConnection = parseRedisUrl(env.REDIS_URL);
    } catch (err) {
      throw new ConfigError(`REDIS_URL: ${(err as Error).message}`);
    }
  }

  const production = env.NODE_ENV === 'production';
  const workers = !env.WORKERS ? 1 : env.WORKERS === 'auto' ? availableParallelism() : Number(env.WORKERS);
  if (workers > 1 && !redisConnection) {
    throw new ConfigError('WORKERS: several worker processes need a shared store (set REDIS_URL)');
  }
  const mode = options.mode ?? env.GATEHOUSE_MODE ?? 'standard';
  if (mode === 'test' && production) {
    throw new ConfigError(
      'GATEHOUSE_MODE: test mode (any user signs in) is refused when NODE_ENV=production',
    );
  }
  // Whatever NODE_ENV says (staging, unset, …): test mode on a shared store could mint tokens for
  // whoever else uses it, so it needs the opt-in by name (`all` does not cover it).
  if (mode === 'test' && redisConnection && !allowInsecure.has('test-mode-shared-store')) {
    throw new ConfigError(
      'GATEHOUSE_MODE: test mode (any user signs in) runs on the in-memory store only; to run it on REDIS_URL anyway (in its own key namespace), set GATEHOUSE_ALLOW_INSECURE=test-mode-shared-store',
    );
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
    throw new ConfigError('METRICS_PORT: must differ from PORT (it serves /metrics on its own)');
  }
  const config: Config = {
    ...file,
    cookies: { keys: cookieKeys },
    port: env.PORT,
    issuer,
    redisUrl: env.REDIS_URL || undefined,
    redisConnection,
    metricsToken: env.METRICS_TOKEN,
    metricsPort: env.METRICS_PORT,
    metricsHost: env.METRICS_HOST,
    testApiToken: env.TEST_API_TOKEN,
    trustProxy:
      !env.TRUST_PROXY || env.TRUST_PROXY === 'false'
        ? 0
        : env.TRUST_PROXY === 'true'
          ? 1
          : Number(env.TRUST_PROXY),
    nodeEnv: env.NODE_ENV,
    production,
    workers,
    mode,
    logLevel: env.LOG_LEVEL ?? 'info',
    allowInsecure,
    defaultCookieKeys: cookieKeys.some((k) => defaultCookieKeys.cookies.keys.includes(k)),
  };
  checkUniqueness(config);
  const problems = checkProductionSafety(config);
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return deepFreeze(config);
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`CONFIG_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`CONFIG_FILE: ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`CONFIG_FILE: ${path} must hold a JSON object at the top level`);
  }
  return value as Record<string, unknown>;
}

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // Name each unknown key by its full path (`ttl.acessToken`), not by its parent.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${[...path, key].join('.')}: unknown key`);
    }
    return [`${path.join('.') || '(top level)'}: ${issue.message}`];
  });
  throw new ConfigError(`invalid ${what}:\n  ${lines.join('\n  ')}`);
}

/** Replaces `${ISSUER}` in every string so shipped examples follow PORT and ISSUER. */
function substituteIssuer(value: unknown, issuer: string): unknown {
  if (typeof value === 'string') return value.replaceAll('${ISSUER}', issuer);
  if (Array.isArray(value)) return value.map((v) => substituteIssuer(v, issuer));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteIssuer(v, issuer)]));
  }
  return value;
}

function checkUniqueness(config: Config): void {
  const seen = new Set<string>([ACCOUNT_CLIENT_ID]); // the account page's built-in client
  config.clients.forEach((client, i) => {
    if (seen.has(client.client_id)) {
      throw new ConfigError(
        client.client_id === ACCOUNT_CLIENT_ID
          ? `clients.${i}.client_id: "${ACCOUNT_CLIENT_ID}" is reserved for the account page`
          : `clients.${i}.client_id: duplicate client_id "${client.client_id}"`,
      );
    }
    seen.add(client.client_id);
  });
  const names = new Set<string>();
  const subs = new Set<string>();
  config.users.forEach((user, i) => {
    if (names.has(user.username.toLowerCase())) {
      throw new ConfigError(`users.${i}.username: duplicate username "${user.username}"`);
    }
    if (subs.has(user.claims.sub)) {
      throw new ConfigError(`users.${i}.claims.sub: duplicate sub "${user.claims.sub}"`);
    }
    names.add(user.username.toLowerCase());
    subs.add(user.claims.sub);
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Set)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
