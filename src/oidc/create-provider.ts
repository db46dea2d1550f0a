import Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { Views } from '../http/views.js';
import type { AccountStore } from '../accounts/account-store.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { buildProviderConfiguration, supportedScopes } from './provider-config.js';
import { createAssertionVerifier } from './grants/trusted-assertions.js';
import * as jwtBearer from './grants/jwt-bearer.js';
import * as tokenExchange from './grants/token-exchange.js';
import { createDeviceFlow, requireDeviceSession } from './device-flow.js';
import { conformErrors } from './conform-errors.js';
import {
  addAtHashAtTokenEndpoint,
  addIdpToIdTokens,
  includeSidForAllClients,
  interceptClientAuthentication,
  makeReplayDetectionAtomic,
  refuseReplayedRequestObjects,
  refuseUnregisteredResponseTypes,
  spendPushedRequestsOnce,
  sendBackchannelLogoutsInBackground,
} from './internals.js';
import { createBackchannelLogout, type BackchannelLogout } from './backchannel-logout.js';
import { observeProvider } from './observe-provider.js';
import { giveEachAuthorizationItsAcr } from './acr-policy.js';
import { enforceExchangeLineage } from './grants/exchange-lineage.js';
import { createClientAuthLimits } from './client-auth-limits.js';
import { enforceRegisteredAuthMethod } from './client-auth-method.js';
import { keepUsedAwsRegistrations } from './aws-registrations.js';
import { limitRegistrations } from './registration.js';
import { describeGrantErrorsForAws } from './grant-error-details.js';
import { guardRedeemedDeviceCodes } from './device-code-retry.js';
import type { RateLimits } from '../http/rate-limits.js';
import type { Metrics } from '../http/metrics.js';

export interface ProviderDeps {
  config: Config;
  store: Store;
  views: Views;
  accounts: AccountStore;
  keys: SigningKeys;
  /** The shared secret DPoP nonces derive from; present when `dpop.nonces` is not "off". */
  dpopNonceSecret?: Buffer;
  logger: Logger;
  rateLimits: RateLimits;
  metrics?: Metrics;
  /** Shared by the providers a ProviderRef swaps in, so deliveries can be awaited at shutdown. */
  backchannelLogout?: BackchannelLogout;
}

/** Creates the configured oidc-provider instance with Gatehouse's middleware and event wiring. */
export function createProvider(deps: ProviderDeps) {
  const deviceFlow = createDeviceFlow(deps);
  const backchannelLogout = deps.backchannelLogout ?? createBackchannelLogout(deps);
  const provider = new Provider(
    deps.config.issuer,
    buildProviderConfiguration({ ...deps, backchannelLogout, devicePages: deviceFlow.pages }),
  );
  // Host and protocol are pinned to the issuer's by the host app (http/pin-issuer.ts).
  provider.proxy = true;
  addAtHashAtTokenEndpoint(provider.IdToken);
  if (deps.config.upstreams.length) addIdpToIdTokens(provider.IdToken);
  includeSidForAllClients(provider.Client);
  refuseUnregisteredResponseTypes(provider.Client);
  sendBackchannelLogoutsInBackground(provider.Client, backchannelLogout.schedule);
  makeReplayDetectionAtomic(provider.ReplayDetection, deps.store);
  refuseReplayedRequestObjects(provider);
  spendPushedRequestsOnce(provider.PushedAuthorizationRequest);
  enforceExchangeLineage(provider);
  giveEachAuthorizationItsAcr(provider, deps.config);
  provider.use(observeProvider(provider, deps.logger, deps.metrics));
  const clientAuthLimits = createClientAuthLimits(deps.rateLimits);
  interceptClientAuthentication(provider, {
    before: clientAuthLimits.check,
    after: enforceRegisteredAuthMethod,
  });
  provider.use(clientAuthLimits.recordFailures);
  provider.use(keepUsedAwsRegistrations(deps.store, deps.logger));
  if (deps.config.registration.enabled) provider.use(limitRegistrations(deps));
  provider.use(conformErrors);
  provider.use(describeGrantErrorsForAws(provider));
  guardRedeemedDeviceCodes(provider, deps.config.aws.redeemedRetryGraceSeconds);
  provider.use(requireDeviceSession(provider.cookieName('session')));
  deviceFlow.interceptPolls(provider);
  provider.use(deviceFlow.middleware);

  const verifier = createAssertionVerifier(deps);
  const scopes = supportedScopes(deps.config);
  provider.registerGrantType(
    jwtBearer.grantType,
    jwtBearer.createJwtBearerHandler({ verifier, scopes }),
    jwtBearer.parameters,
  );
  provider.registerGrantType(
    tokenExchange.grantType,
    tokenExchange.createTokenExchangeHandler({ verifier, scopes }),
    tokenExchange.parameters,
    ['audience', 'resource'],
  );

  return { provider, deviceFlow };
}
