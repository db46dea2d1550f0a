import type { Next } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { RateLimits } from '../http/rate-limits.js';
import { createRegistrationCap } from '../http/registration-cap.js';
import { TRUSTED_POLICY } from './initial-access-tokens.js';

/** Where clients register (RFC 7591 §3); each one's registration_client_uri is below it. */
export const REGISTRATION_PATH = '/register';

type Features = NonNullable<Configuration['features']>;

/**
 * oidc-provider's registration features, from `registration.*`. Unless `registration.open`,
 * registering needs an initial access token from the library's InitialAccessToken model: those
 * `gatehouse-admin registration-tokens create` stores, and `registration.initialAccessTokens`
 * (both through hashed-tokens.ts). Every registration gets a registration access token, rotated
 * on each PUT (RFC 7592 §2.2). What a client may register is checked in registration-policy.ts.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591
 * @see https://www.rfc-editor.org/rfc/rfc7592
 */
export function registrationFeatures(
  config: Config,
): Pick<Features, 'registration' | 'registrationManagement'> {
  const { enabled, open } = config.registration;
  return {
    registration: {
      enabled,
      initialAccessToken: !open,
      issueRegistrationAccessToken: true,
      // The trusted policy changes nothing itself: registration-policy.ts reads it from the token
      // (the library carries it from the initial to the registration access token).
      ...(open ? {} : { policies: { [TRUSTED_POLICY]: () => undefined } }),
    },
    registrationManagement: { enabled, rotateRegistrationAccessToken: true },
  };
}

/**
 * Provider middleware bounding registrations like the AWS API's RegisterClient: a per-IP request
 * quota (`rateLimits.registrationPerIp`) and a global cap per hour shared by every instance
 * (`registration.maxRegistrationsPerHour`), answered 429 `slow_down` with Retry-After. A
 * registration the provider refused gives its place in the cap back, so invalid requests cannot
 * use the cap up. Each registration, update and deletion is logged as an audit event.
 */
export function limitRegistrations(deps: {
  config: Config;
  store: Store;
  rateLimits: RateLimits;
  logger: Logger;
}) {
  const cap = createRegistrationCap(
    deps.store,
    deps.config.registration.maxRegistrationsPerHour,
    'registrations',
  );
  return async function limitRegistration(ctx: KoaContextWithOIDC, next: Next) {
    if (ctx.path !== REGISTRATION_PATH && !ctx.path.startsWith(`${REGISTRATION_PATH}/`)) return next();
    const log = (ctx.state as { log?: Logger }).log ?? deps.logger;
    const creating = ctx.method === 'POST' && ctx.path === REGISTRATION_PATH;
    if (creating) {
      const perIp = await deps.rateLimits.consume('registrationPerIp', ctx.ip);
      if (perIp > 0) return slowDown(ctx, perIp, 'too many registrations from this address');
      const global = await cap.take();
      if (global > 0) {
        log.warn(
          { audit: true, event: 'client.registration_capped' },
          'registration refused: registration.maxRegistrationsPerHour reached',
        );
        return slowDown(ctx, global, 'too many clients registered recently');
      }
    }
    try {
      await next();
    } finally {
      if (creating && ctx.status !== 201) await cap.giveBack();
    }
    const clientId = ctx.oidc?.entities.Client?.clientId;
    const event = AUDIT_EVENTS[`${ctx.method} ${ctx.status}`];
    if (event && clientId)
      log.info({ audit: true, event, clientId, via: 'register' }, event.replace('.', ' '));
  };
}

const AUDIT_EVENTS: Record<string, string> = {
  'POST 201': 'client.registered',
  'PUT 200': 'client.updated',
  'DELETE 204': 'client.deleted',
};

function slowDown(ctx: KoaContextWithOIDC, wait: number, description: string): void {
  ctx.status = 429;
  ctx.set('retry-after', String(wait));
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: 'slow_down', error_description: `${description}; retry after ${wait} seconds` };
}
