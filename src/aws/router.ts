import Router from '@koa/router';
import type { Context } from 'koa';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import { isStoreUnavailable } from '../storage/store-unavailable.js';
import { AwsApiError, sendAwsError } from './errors.js';
import { createDelegate } from './delegate.js';
import {
  createTokenRequest,
  createTokenWithIamRequest,
  parseRequest,
  registerClientRequest,
  startDeviceAuthorizationRequest,
} from './wire.js';
import { registerClient } from './register-client.js';
import { startDeviceAuthorization } from './start-device-authorization.js';
import { createToken } from './create-token.js';
import { createTokenWithIam } from './create-token-with-iam.js';
import { verifySigV4 } from './sigv4.js';
import type { RateLimits } from '../http/rate-limits.js';
import type { Metrics } from '../http/metrics.js';
import { createRegistrationCap } from '../http/registration-cap.js';

export const AWS_BASE_PATH = '/aws/oidc';

export interface AwsDeps {
  providers: ProviderRef;
  store: Store;
  config: Config;
  logger: Logger;
  rateLimits: RateLimits;
  metrics?: Metrics;
}

/**
 * The AWS IAM Identity Center OIDC-shaped JSON API under /aws/oidc. It translates requests into
 * standard OAuth requests to the provider and results and errors back; it has no grant logic.
 */
export function createAwsRouter(deps: AwsDeps): Router {
  const { providers, config, logger } = deps;
  const delegate = createDelegate(providers, config.issuer);
  const router = new Router({ prefix: AWS_BASE_PATH });
  const registrationCap = createRegistrationCap(deps.store, config.aws.maxRegistrationsPerHour);

  const handle = (operation: (ctx: Context, raw: string) => Promise<unknown>) => async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    try {
      const raw = await readBody(ctx, config.http.bodyLimitBytes);
      ctx.body = await operation(ctx, raw);
      ctx.status = 200;
    } catch (err) {
      if (err instanceof AwsApiError) {
        if (err.retryAfter) ctx.set('retry-after', err.retryAfter);
        // The provider's own 503 reaches us without the host's Retry-After (store-outage.ts).
        else if (err.code === 'temporarily_unavailable') ctx.set('retry-after', '1');
        sendAwsError(ctx, err.code, err.description);
      } else if (isStoreUnavailable(err)) {
        ctx.set('retry-after', '1');
        sendAwsError(
          ctx,
          'temporarily_unavailable',
          'the service is temporarily unavailable; try again shortly',
        );
      } else {
        logger.error({ requestId: ctx.state.requestId, err }, 'aws api error');
        sendAwsError(ctx, 'server_error', 'an internal error occurred');
      }
    }
  };

  /** Per-IP request quotas for the unauthenticated-cost operations (SlowDownException beyond). */
  const quota = async (ctx: Context, name: 'awsRegisterClientPerIp' | 'awsStartDeviceAuthorizationPerIp') => {
    const wait = await deps.rateLimits.consume(name, ctx.ip);
    if (wait > 0) {
      if (name === 'awsRegisterClientPerIp') deps.metrics?.awsRegistrationsRefused.inc({ reason: 'per_ip' });
      slowDown(ctx, wait, 'too many requests');
    }
  };
  /** The global registration cap (SlowDownException, the model's status 400, with Retry-After). */
  const takeRegistration = (ctx: Context) => async () => {
    const wait = await registrationCap.take();
    if (wait > 0) {
      deps.metrics?.awsRegistrationsRefused.inc({ reason: 'global' });
      (ctx.state.log as Logger | undefined)?.warn(
        { audit: true, event: 'client.registration_capped' },
        'RegisterClient refused: aws.maxRegistrationsPerHour reached',
      );
      slowDown(ctx, wait, 'too many clients registered recently');
    }
  };

  router.post(
    '/client/register',
    handle(async (ctx, raw) => {
      await quota(ctx, 'awsRegisterClientPerIp');
      const registered = await registerClient(
        { provider: providers.current, store: deps.store, config, beforeStore: takeRegistration(ctx) },
        parseRequest(ctx, registerClientRequest, raw),
      );
      (ctx.state.log as Logger | undefined)?.info(
        { audit: true, event: 'client.registered', clientId: registered.clientId, via: 'aws' },
        'client registered',
      );
      return registered;
    }),
  );
  router.post(
    '/device_authorization',
    handle(async (ctx, raw) => {
      await quota(ctx, 'awsStartDeviceAuthorizationPerIp');
      return startDeviceAuthorization(
        { delegate, provider: providers.current, config },
        parseRequest(ctx, startDeviceAuthorizationRequest, raw),
        ctx,
      );
    }),
  );
  router.post(
    '/token',
    handle(async (ctx, raw) => {
      if (ctx.query.aws_iam === 't') {
        await verifySigV4(
          {
            method: ctx.method,
            host: String(ctx.state.originalHost ?? ctx.host),
            path: ctx.path,
            query: ctx.query as Record<string, string | string[]>,
            headers: ctx.headers,
            body: raw,
          },
          {
            keys: config.aws.iamAccessKeys,
            region: config.aws.region,
            remember: (signature, ttl) => deps.store.setRecordIfAbsent(`sigv4:${signature}`, 1, ttl),
          },
        );
        return createTokenWithIam(
          { delegate, provider: providers.current },
          parseRequest(ctx, createTokenWithIamRequest, raw),
          ctx,
        );
      }
      return createToken({ delegate }, parseRequest(ctx, createTokenRequest, raw), ctx);
    }),
  );
  router.all(['/client/register', '/device_authorization', '/token'], (ctx) => {
    ctx.set('allow', 'POST');
    sendAwsError(ctx, 'invalid_request', `${ctx.method} is not allowed; use POST`);
    ctx.status = 405; // RFC 9110 §15.5.6, with the model's InvalidRequestException
  });
  return router;
}

function slowDown(ctx: Context, wait: number, reason: string): never {
  ctx.set('retry-after', String(wait));
  throw new AwsApiError('slow_down', `${reason}; retry after ${wait} seconds`);
}

/** Reads the raw request body, refusing more than `limit` bytes. */
async function readBody(ctx: Context, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AwsApiError('invalid_request', `the request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
