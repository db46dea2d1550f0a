import Koa from 'koa';
import mount from 'koa-mount';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { AccountStore } from './accounts/account-store.js';
import type { TestAccountStore } from './accounts/test-accounts.js';
import { createTestApiRouter, TEST_API_PREFIX } from './test-mode/router.js';
import type { Views } from './http/views.js';
import type { Store } from './storage/store.js';
import { createErrorHandler } from './http/error-handler.js';
import { createNotFound } from './http/not-found.js';
import { createHttpMetrics, createMetricsEndpoint, type Metrics } from './http/metrics.js';
import type { RateLimits } from './http/rate-limits.js';
import { createRetryAfter } from './http/store-outage.js';
import { createSecurityHeaders } from './http/security-headers.js';
import { createPinIssuer } from './http/pin-issuer.js';
import { createRequestId } from './http/request-id.js';
import { createHealthRoutes } from './http/health.js';
import { createMetadataCache, type MetadataCache } from './http/metadata-cache.js';
import { createBodyLimit } from './http/body-limit.js';
import { createRefuse } from './http/refusal.js';
import { providerRouteMethods } from './oidc/internals.js';
import { sendAwsError } from './aws/errors.js';
import { underPrefix } from './http/under-prefix.js';
import { refuseUnimplementedMethods } from './http/methods.js';
import { createInteractionRouter } from './interactions/router.js';
import { createAccountRouter } from './account/router.js';
import { configuredTotpSecrets, createFactors } from './mfa/factors.js';
import { createUpstreamRouter } from './upstreams/upstream-router.js';
import { createUpstream } from './upstreams/create-upstream.js';
import { createDirectoryAccountStore } from './upstreams/directory-accounts.js';
import { isBrowserUpstream } from './config/upstreams-schema.js';
import { createUpstreamAccounts } from './upstreams/upstream-accounts.js';
import { createDemoRouter } from './interactions/demo-router.js';
import { DEMO_CLIENT_ID } from './config/production-safety.js';
import { AWS_BASE_PATH, createAwsRouter } from './aws/router.js';
import { createAuthorizeCompat } from './aws/authorize-compat.js';
import { AWS_PORTAL_BASE_PATH, createAwsPortal } from './aws/portal.js';
import { sendPortalError } from './aws/portal-errors.js';
import { createAwsEnvelope } from './aws/envelope.js';
import { createPostAsGet, withPostAsGet } from './http/post-as-get.js';
import type { ProviderRef } from './oidc/provider-ref.js';

export interface AppDeps {
  config: Config;
  providers: ProviderRef;
  accounts: AccountStore;
  /** Present in test mode only: the runtime test API manages these users. */
  testAccounts?: TestAccountStore;
  views: Views;
  store: Store;
  logger: Logger;
  rateLimits: RateLimits;
  metrics?: Metrics;
  /** The discovery and JWKS cache, when shared with the listener in front of the app (gatehouse.ts). */
  metadataCache?: MetadataCache;
}

/**
 * The host Koa app. Order: request id → AWS envelope → metrics → error handler → security headers → discovery and
 * JWKS cache → issuer pinning → methods → body limit → health and assets → interaction pages → demo →
 * AWS API and access portal → oidc-provider (everything else).
 */
export function createApp(deps: AppDeps): Koa {
  const { config, providers, views, logger } = deps;
  const app = new Koa();
  app.proxy = true; // see http/pin-issuer.ts: host and protocol are pinned to the issuer's
  app.maxIpsCount = config.trustProxy; // X-Forwarded-For entries to trust (TRUST_PROXY)
  app.keys = [...config.cookies.keys];
  app.silent = true; // errors are logged by our handler, not printed by Koa

  app.use(createRequestId(logger));
  if (config.aws.enabled) app.use(createAwsEnvelope(AWS_BASE_PATH)); // x-amzn-RequestId, errors in the AWS shape
  if (deps.metrics) {
    app.use(createHttpMetrics(deps.metrics));
    // With METRICS_PORT, /metrics is served there only (see createMetricsApp).
    if (config.metricsPort === undefined) {
      app.use(createMetricsEndpoint(deps.metrics, config.metricsToken));
    }
  }
  app.use(createErrorHandler({ views, logger }));
  app.use(createRetryAfter());
  app.use(createSecurityHeaders({ https: config.issuer.startsWith('https:') }));
  // Discovery and /jwks, with ETags; early, as most hits need nothing after (and most never reach
  // Koa at all: see http/metadata-listener.ts).
  app.use((deps.metadataCache ?? createMetadataCache(providers)).middleware);
  app.use(createPinIssuer(config.issuer, config.trustProxy));
  app.use(refuseUnimplementedMethods);
  const refuse = createRefuse({
    views,
    ...(config.aws.enabled
      ? {
          own: [
            { prefix: AWS_BASE_PATH, send: sendAwsRefusal },
            { prefix: AWS_PORTAL_BASE_PATH, send: sendPortalRefusal },
          ],
        }
      : {}),
  });
  app.use(createBodyLimit(config.http.bodyLimitBytes, refuse));
  app.use(
    createNotFound({
      views,
      refuse,
      methodsAt: (path) => withPostAsGet(path, providerRouteMethods(providers.current, path)),
    }),
  );
  app.use(createHealthRoutes({ store: deps.store, stylesheet: views.stylesheet }));

  if (config.mode === 'test' && deps.testAccounts) {
    const testApi = createTestApiRouter({
      providers,
      store: deps.store,
      accounts: deps.testAccounts,
      config,
    });
    app.use(underPrefix(TEST_API_PREFIX, testApi.routes(), testApi.allowedMethods()));
  }

  // Upstream identity providers (src/upstreams/): browser round trips, and LDAP directories
  // checked by the sign-in form.
  const upstreamAccounts = createUpstreamAccounts({ store: deps.store, accounts: deps.accounts });
  const browserUpstreams = config.upstreams.filter(isBrowserUpstream);
  if (browserUpstreams.length) {
    // Before the interaction pages: it sends hinted sign-ins straight to their upstream.
    const upstreams = createUpstreamRouter({
      providers,
      config,
      views,
      store: deps.store,
      upstreams: new Map(browserUpstreams.map((u) => [u.id, createUpstream(u)])),
      accounts: upstreamAccounts,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    app.use(underPrefix('/upstream', upstreams.routes()));
    app.use(underPrefix('/interaction', upstreams.routes()));
  }
  const directories = config.upstreams.filter((u) => u.type === 'ldap');
  const formAccounts = directories.length
    ? createDirectoryAccountStore(deps.accounts, {
        directories,
        accounts: upstreamAccounts,
        logger,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
      })
    : deps.accounts;

  const interactions = createInteractionRouter({ ...deps, accounts: formAccounts });
  app.use(underPrefix('/interaction', interactions.routes(), interactions.allowedMethods()));

  const account = createAccountRouter({
    ...deps,
    views,
    factors: createFactors(deps.store, configuredTotpSecrets(config.users)),
  });
  app.use(underPrefix('/account', account.routes(), account.allowedMethods()));

  const demoClient = config.clients.find((c) => c.client_id === DEMO_CLIENT_ID);
  if (demoClient) {
    const demo = createDemoRouter({ config, views, client: demoClient });
    app.use(underPrefix('/demo', demo.routes(), demo.allowedMethods()));
  }

  if (config.aws.enabled) {
    const aws = createAwsRouter({
      providers,
      store: deps.store,
      config,
      logger,
      rateLimits: deps.rateLimits,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    app.use(underPrefix(AWS_BASE_PATH, aws.routes()));
    app.use(underPrefix(AWS_PORTAL_BASE_PATH, createAwsPortal({ providers, logger })));
    app.use(createAuthorizeCompat(providers));
  }

  app.use(createPostAsGet(config.http.bodyLimitBytes)); // after the AWS path is rewritten to /authorize
  app.use(providers.deviceFlow.prefillUserCode);
  app.use(mountCurrent(providers));
  return app;
}

/** The AWS API's refusals: InvalidRequestException (the model's exception for a malformed request) with the HTTP status of the refusal. */
function sendAwsRefusal(ctx: Koa.Context, status: number, description: string): void {
  sendAwsError(ctx, 'invalid_request', description);
  ctx.status = status;
}

/** The access portal API's refusals, in its shape (InvalidRequestException, the refusal's status). */
function sendPortalRefusal(ctx: Koa.Context, status: number, description: string): void {
  ctx.set('x-amzn-requestid', String(ctx.state.requestId));
  sendPortalError(ctx, 'InvalidRequestException', description);
  ctx.status = status;
}

/** Mounts whichever provider is current (it is replaced when the signing keys change). */
function mountCurrent(providers: ProviderRef): Koa.Middleware {
  let mountedFor: ProviderRef['current'] | undefined;
  let mounted: Koa.Middleware;
  return (ctx, next) => {
    if (mountedFor !== providers.current) {
      mountedFor = providers.current;
      mounted = mount(mountedFor);
    }
    return mounted(ctx, next);
  };
}
