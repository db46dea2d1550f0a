import type { Next } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { budgetKey, type Budget, type RateLimits } from '../http/rate-limits.js';
import { CLIENT_AUTH_ROUTES } from './internals.js';

/** Where the client id a request authenticated as is kept for counting its failure. */
const PRESENTED_CLIENT = Symbol('presentedClientId');
type Ctx = KoaContextWithOIDC & { [PRESENTED_CLIENT]?: string };

/** 429 `slow_down` (the code RFC 8628 §3.5 uses for "back off"), with the wait in its description. */
class ClientAuthSlowDown extends errors.OIDCProviderError {
  constructor(wait: number) {
    super(429, 'slow_down');
    this.error_description = `too many failed client authentications; retry after ${wait} seconds`;
  }
}

/**
 * The budgets a client authentication counts against (README "Rate limits"): per client IP and
 * per (client, IP), which block hard, and per client across every address, which only slows
 * attempts down so that failures from elsewhere never lock the rightful client out for long.
 */
function budgetsFor(ip: string, clientId: string | undefined): Budget[] {
  if (clientId === undefined) return [['clientAuthPerIp', ip]];
  return [
    ['clientAuthPerIp', ip],
    ['clientAuthPerClientAndIp', budgetKey(clientId, ip)],
    ['clientAuthPerClient', clientId],
  ];
}

/**
 * Limits client authentication failures the same way whatever the method (client_secret_basic,
 * client_secret_post, private_key_jwt, none) and whoever calls (the AWS API's CreateToken and
 * StartDeviceAuthorization reach /token and /device_authorization in-process, with the
 * original caller's address).
 *
 * `check` runs inside the provider once it knows which client is authenticating (see
 * internals.ts, interceptClientAuthentication): a blocked client or IP gets 429 `slow_down` with
 * Retry-After before its credentials are looked at. `recordFailures` is provider middleware
 * counting every `invalid_client` answer against the budgets.
 */
export function createClientAuthLimits(limits: RateLimits) {
  return {
    async check(ctx: KoaContextWithOIDC, clientId: string): Promise<void> {
      (ctx as Ctx)[PRESENTED_CLIENT] = clientId;
      const wait = await limits.retryAfterAny(budgetsFor(ctx.ip, clientId));
      if (wait === 0) return;
      ctx.set('retry-after', String(wait));
      throw new ClientAuthSlowDown(wait);
    },
    async recordFailures(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
      await next();
      if (
        (ctx.body as { error?: string } | undefined)?.error === 'invalid_client' &&
        CLIENT_AUTH_ROUTES.has(ctx.oidc?.route)
      ) {
        await limits.recordFailures(budgetsFor(ctx.ip, (ctx as Ctx)[PRESENTED_CLIENT]));
      }
    },
  };
}
