import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/store.js';
import type { TestAccountStore } from '../accounts/test-accounts.js';
import { defaultTestClaims } from '../accounts/test-accounts.js';
import { AppError } from '../http/app-error.js';
import { supportedScopes } from '../oidc/provider-config.js';
import { mintTokens } from './mint-tokens.js';
import { requireBearerToken } from '../http/bearer-token.js';
import { MODE_RECORD } from '../storage/store-mode.js';
import { nextLoginAuthSchema, queueNextLoginAuth } from './next-login-auth.js';

export const TEST_API_PREFIX = '/_test';

/**
 * Gatehouse's own records that survive a reset: the signing keys every instance shares, and the
 * mark saying this store (or, on Redis, this key namespace) is test mode's.
 */
const KEPT_ON_RESET = new Set(['rec:signing-keys', `rec:${MODE_RECORD}`]);
const TOKEN_STATE =
  /^(AccessToken|RefreshToken|AuthorizationCode|DeviceCode|ClientCredentials|BackchannelAuthenticationRequest|Grant|Session|Interaction|grant|uid|userCode):/;

const claimsSchema = z.record(z.string(), z.unknown());
const userSchema = z.object({ username: z.string().min(1).max(256), claims: claimsSchema.optional() });
const tokenSchema = z
  .object({
    client_id: z.string().min(1),
    username: z.string().min(1).optional(),
    sub: z.string().min(1).optional(),
    scope: z.string().default('openid'),
    nonce: z.string().optional(),
  })
  .refine((v) => !!v.username !== !!v.sub, 'give exactly one of username or sub');

/**
 * The runtime test API, served only in test mode: clients, users, next-login claims, minted
 * tokens, revoke-all and reset. JSON in, JSON out; errors in the OAuth `{ error,
 * error_description }` shape (rendered by the top-level error handler). With TEST_API_TOKEN set,
 * every request needs it as a bearer token.
 *
 * Reset and revoke-all delete only keys of this store, which in test mode is the in-memory one
 * or a Redis key namespace of test mode's own (see storage/store-mode.ts): never standard-mode
 * state.
 */
export function createTestApiRouter(deps: {
  providers: ProviderRef;
  store: Store;
  accounts: TestAccountStore;
  config: Config;
}) {
  const { providers, store, accounts, config } = deps;
  const router = new Router({ prefix: TEST_API_PREFIX });
  // First, so that nothing (not even the body) is read for a caller without the token.
  if (config.testApiToken) router.use(requireBearerToken(config.testApiToken, 'test API'));
  router.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: `${config.http.bodyLimitBytes}b`,
      onError: () => {
        throw new AppError(400, 'invalid_request', 'the request body is not valid JSON');
      },
    }),
  );
  router.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });
  const body = <T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> => {
    const result = schema.safeParse(ctx.request.body ?? {});
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new AppError(400, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    return result.data;
  };

  router.get('/', (ctx) => {
    ctx.body = { issuer: config.issuer, mode: config.mode, store: store.kind };
  });

  router.post('/clients', async (ctx) => {
    const metadata = { ...body(ctx, claimsSchema) };
    metadata.client_id ??= `test-${randomBytes(8).toString('hex')}`;
    if (metadata.token_endpoint_auth_method !== 'none' && metadata.client_secret === undefined) {
      metadata.client_secret = randomBytes(24).toString('base64url');
    }
    if (typeof metadata.client_id !== 'string' || (await providers.current.Client.find(metadata.client_id))) {
      throw new AppError(400, 'invalid_client_metadata', 'client_id must be a new string');
    }
    try {
      await providers.current.Client.validate(metadata as never);
    } catch (err) {
      const e = err as { error?: string; error_description?: string; message: string };
      throw new AppError(400, e.error ?? 'invalid_client_metadata', e.error_description ?? e.message);
    }
    await store.adapter('Client').upsert(metadata.client_id, metadata as never, 0);
    ctx.status = 201;
    ctx.body = metadata;
  });

  router.delete('/clients/:id', async (ctx) => {
    if (config.clients.some((c) => c.client_id === ctx.params.id)) {
      throw new AppError(400, 'invalid_request', 'configured clients cannot be removed at runtime');
    }
    if (!(await store.adapter('Client').find(ctx.params.id!)))
      throw new AppError(404, 'not_found', 'no such client');
    await store.adapter('Client').destroy(ctx.params.id!);
    ctx.status = 204;
  });

  router.post('/users', async (ctx) => {
    const { username, claims } = body(ctx, userSchema);
    const base = defaultTestClaims(username);
    const merged = { ...base, ...claims, sub: String(claims?.sub ?? base.sub) };
    ctx.status = 201;
    ctx.body = await accounts.saveUser({ username, claims: merged });
  });

  router.delete('/users/:username', async (ctx) => {
    if (!(await accounts.removeUser(ctx.params.username!)))
      throw new AppError(404, 'not_found', 'no such user');
    ctx.status = 204;
  });

  router.put('/users/:username/next-login-claims', async (ctx) => {
    await accounts.queueNextLoginClaims(ctx.params.username!, body(ctx, claimsSchema));
    ctx.status = 204;
  });

  router.put('/users/:username/next-login-auth', async (ctx) => {
    await queueNextLoginAuth(store, ctx.params.username!, body(ctx, nextLoginAuthSchema));
    ctx.status = 204;
  });

  router.post('/tokens', async (ctx) => {
    const request = body(ctx, tokenSchema);
    const account = request.username
      ? await accounts.authenticate(request.username, '')
      : await accounts.findBySub(request.sub!);
    if (!account) throw new AppError(400, 'invalid_request', `no user with sub "${request.sub}"`);
    ctx.body = await mintTokens(providers.current, {
      account,
      clientId: request.client_id,
      scope: request.scope,
      nonce: request.nonce,
      supportedScopes: supportedScopes(config),
    });
  });

  router.post('/revoke-all', async (ctx) => {
    ctx.body = { deleted: await store.deleteWhere((key) => TOKEN_STATE.test(key)) };
  });

  router.post('/reset', async (ctx) => {
    ctx.body = { deleted: await store.deleteWhere((key) => !KEPT_ON_RESET.has(key)) };
  });

  return router;
}
