import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createLogger } from './http/logger.js';
import { createMetrics, createMetricsApp, storeObserver } from './http/metrics.js';
import { createRateLimits } from './http/rate-limits.js';
import { instrumentStore } from './storage/instrument-store.js';
import type { Config } from './config/schema.js';
import { loadConfig, ConfigError, type LoadConfigOptions } from './config/load-config.js';
import { createAccountStore } from './accounts/account-store.js';
import { createTestAccountStore } from './accounts/test-accounts.js';
import { createStoredAccountStore } from './accounts/stored-accounts.js';
import { createViews } from './http/views.js';
import { createProviderRef, type ProviderRef } from './oidc/provider-ref.js';
import { openStore } from './storage/open-store.js';
import { claimStoreMode } from './storage/store-mode.js';
import { createApp } from './app.js';
import { createMetadataCache } from './http/metadata-cache.js';
import { createMetadataListener } from './http/metadata-listener.js';
import { createBackchannelLogout, type BackchannelLogout } from './oidc/backchannel-logout.js';

export interface Gatehouse {
  config: Readonly<Config>;
  app: ReturnType<typeof createApp>;
  /**
   * The request listener for a node:http server: discovery and /jwks answered from their cache in
   * front of Koa (http/metadata-listener.ts), everything else by `app`. Like Koa's `callback()`,
   * it takes the app's middleware as it is when called.
   */
  callback(): RequestListener;
  /** The app for METRICS_PORT, when metrics are served on a port of their own. */
  metricsApp: ReturnType<typeof createMetricsApp> | undefined;
  /** The provider in use (replaced when the signing keys in effect change). */
  readonly provider: ProviderRef['current'];
  providers: ProviderRef;
  /** Checks the store for signing-key changes now (instances also do so every keys.refreshSeconds). */
  refreshKeys(): Promise<boolean>;
  store: Awaited<ReturnType<typeof openStore>>;
  logger: Logger;
  /** Logout token deliveries (close() waits for those under way). */
  backchannelLogout: BackchannelLogout;
  close(): Promise<void>;
}

/**
 * Assembles Gatehouse from a loaded configuration: store, keys, accounts, provider, app.
 * Has no process-level side effects (see main.ts for those).
 */
export async function createGatehouse(
  config: Readonly<Config>,
  options: { logger?: Logger; logToStderr?: boolean } = {},
): Promise<Gatehouse> {
  const log = options.logger ?? createLogger(config.logLevel, pino.destination(options.logToStderr ? 2 : 1));
  const metrics = config.metrics.enabled ? createMetrics() : undefined;
  const rawStore = await openStore(config, log);
  const store = metrics ? instrumentStore(rawStore, storeObserver(metrics)) : rawStore;
  let stopWatchingKeys: (() => void) | undefined;
  try {
    const modeProblem = await claimStoreMode(store, config.mode);
    if (modeProblem) throw new ConfigError(`GATEHOUSE_MODE: ${modeProblem}`);
    const views = createViews();
    const configured = createStoredAccountStore(createAccountStore(config.users), store);
    const testAccounts = config.mode === 'test' ? createTestAccountStore(configured, store) : undefined;
    const accounts = testAccounts ?? configured;
    const rateLimits = createRateLimits({ store, config, metrics });
    const backchannelLogout = createBackchannelLogout({ config, logger: log, metrics });
    const providers = await createProviderRef({
      backchannelLogout,
      config,
      store,
      views,
      accounts,
      logger: log,
      rateLimits,
      metrics,
    });
    stopWatchingKeys = providers.stop;
    const insecureKeysAllowed = config.allowInsecure.has('dev-keys') || config.allowInsecure.has('all');
    if (
      config.production &&
      providers.ref.keys.source !== 'config' &&
      !store.persistent &&
      !insecureKeysAllowed
    ) {
      throw new ConfigError(
        'jwks: NODE_ENV=production refuses signing keys generated into the in-memory store (configure "jwks", use REDIS_URL, or GATEHOUSE_ALLOW_INSECURE=dev-keys)',
      );
    }
    await validateClients(providers.ref.current, config);
    const metadataCache = createMetadataCache(providers.ref);
    const app = createApp({
      metadataCache,
      config,
      providers: providers.ref,
      accounts,
      testAccounts,
      views,
      store,
      logger: log,
      rateLimits,
      metrics,
    });
    return {
      config,
      app,
      callback: () =>
        createMetadataListener({
          cache: metadataCache,
          next: app.callback(),
          https: config.issuer.startsWith('https:'),
          logger: log,
          metrics,
        }),
      metricsApp:
        metrics && config.metricsPort !== undefined
          ? createMetricsApp(metrics, config.metricsToken)
          : undefined,
      providers: providers.ref,
      get provider() {
        return providers.ref.current;
      },
      refreshKeys: providers.refresh,
      store,
      logger: log,
      backchannelLogout,
      close: async () => {
        providers.stop();
        await backchannelLogout.drain();
        await store.close();
      },
    };
  } catch (err) {
    stopWatchingKeys?.();
    await store.close();
    throw err;
  }
}

/**
 * oidc-provider validates static client metadata when a client is first loaded; load each one
 * now so a bad client stops start-up with a message naming it, instead of failing at runtime.
 */
async function validateClients(provider: Gatehouse['provider'], config: Config): Promise<void> {
  for (const [i, client] of config.clients.entries()) {
    try {
      await provider.Client.find(client.client_id);
    } catch (err) {
      const e = err as { error_description?: string; message: string };
      throw new ConfigError(`clients.${i} (${client.client_id}): ${e.error_description ?? e.message}`);
    }
  }
}

export interface StartOptions extends LoadConfigOptions {
  /** Port to listen on; 0 picks a free one. Overrides PORT. */
  port?: number;
  host?: string;
  logger?: Logger;
  /** Write logs to stderr instead of stdout (the `gatehouse` command prints the issuer on stdout). */
  logToStderr?: boolean;
}

export interface RunningGatehouse extends Gatehouse {
  server: Server;
  /** Listening on METRICS_PORT, when set. */
  metricsServer: Server | undefined;
  issuer: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * Loads configuration and starts listening. With `port: 0` the issuer follows the port chosen
 * unless ISSUER is set.
 */
export async function startGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  const env = { ...(options.env ?? process.env) };
  const server = createServer();
  let port = options.port ?? Number(env.PORT ?? 3000);
  if (port === 0) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host ?? '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  }
  env.PORT = String(port);
  let gatehouse: Gatehouse;
  try {
    gatehouse = await createGatehouse(loadConfig({ env, overrides: options.overrides, mode: options.mode }), {
      logger: options.logger,
      logToStderr: options.logToStderr,
    });
  } catch (err) {
    server.close();
    throw err;
  }
  server.on('request', gatehouse.callback());
  let metricsServer: Server | undefined;
  try {
    if (!server.listening) await listen(server, port, options.host);
    if (gatehouse.metricsApp) {
      metricsServer = createServer(gatehouse.metricsApp.callback());
      await listen(metricsServer, gatehouse.config.metricsPort!, gatehouse.config.metricsHost);
    }
  } catch (err) {
    server.close();
    metricsServer?.close();
    await gatehouse.close();
    throw err;
  }
  const closeStore = gatehouse.close;
  const url = `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}`;
  // The metrics port closes with the store (main.ts closes the main server first, gracefully).
  const close = async () => {
    if (metricsServer?.listening) {
      await new Promise<void>((resolve) => {
        metricsServer.close(() => resolve());
        metricsServer.closeAllConnections();
      });
    }
    await closeStore();
  };
  // Assign onto the object (not a spread copy) so its `provider` getter stays live.
  return Object.assign(gatehouse, {
    server,
    metricsServer,
    issuer: gatehouse.config.issuer,
    url,
    close,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await close();
    },
  });
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
