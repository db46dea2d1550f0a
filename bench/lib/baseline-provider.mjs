// The bench's baseline: bare oidc-provider (the version Gatehouse uses) with a minimal ioredis
// adapter, the bench's clients, keys and users, the same routes, TTLs and token formats as
// Gatehouse, and just enough sign-in and consent handling for a browser-less login round trip.
// It is written for the bench only: no CSRF, no rate limits, no logging, no metrics.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import Provider from 'oidc-provider';
import { verify as argon2Verify } from '@node-rs/argon2';

const defaults = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8'));

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
]);
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode']);

/** The minimal Redis adapter of oidc-provider's documentation, in the shape of its example. */
function redisAdapterFactory(redis, prefix) {
  return class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${prefix}${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const multi = redis.multi();
      if (CONSUMABLE.has(this.name)) multi.hset(key, { payload: JSON.stringify(payload) });
      else multi.set(key, JSON.stringify(payload));
      if (expiresIn) multi.expire(key, expiresIn);
      if (GRANTABLE.has(this.name) && payload.grantId) {
        const grantKey = `${prefix}grant:${payload.grantId}`;
        multi.rpush(grantKey, key);
        if (expiresIn) multi.expire(grantKey, expiresIn, 'GT');
      }
      if (payload.userCode) {
        multi.set(`${prefix}userCode:${payload.userCode}`, id, 'EX', expiresIn);
      }
      if (payload.uid) {
        multi.set(`${prefix}uid:${payload.uid}`, id, 'EX', expiresIn);
      }
      await multi.exec();
    }

    async find(id) {
      if (CONSUMABLE.has(this.name)) {
        const data = await redis.hgetall(this.key(id));
        if (!data.payload) return undefined;
        const { payload, consumed } = data;
        return { ...JSON.parse(payload), ...(consumed ? { consumed: Number(consumed) } : {}) };
      }
      const data = await redis.get(this.key(id));
      return data ? JSON.parse(data) : undefined;
    }

    async findByUid(uid) {
      const id = await redis.get(`${prefix}uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await redis.get(`${prefix}userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async destroy(id) {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `${prefix}grant:${grantId}`;
      const keys = await redis.lrange(grantKey, 0, -1);
      await redis.del(...keys, grantKey);
    }

    async consume(id) {
      await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }
  };
}

/**
 * The bare provider. `jwks` are the same private keys Gatehouse signs with; `clients` and
 * `users` the bench's. Registration (RFC 7591) is on, as the counterpart of AWS RegisterClient.
 */
export function createBaselineProvider({
  issuer,
  redisUrl,
  prefix = 'baseline:',
  clients,
  users,
  jwks,
  cookieKeys,
}) {
  const redis = new Redis(redisUrl);
  const bySub = new Map(users.map((u) => [u.claims.sub, u]));
  const ttl = defaults.ttl;
  const provider = new Provider(issuer, {
    adapter: redisAdapterFactory(redis, prefix),
    clients,
    jwks,
    findAccount: async (_ctx, sub) => {
      const user = bySub.get(sub);
      return user ? { accountId: sub, claims: () => ({ ...user.claims, sub }) } : undefined;
    },
    cookies: {
      keys: cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    claims: defaults.claims,
    scopes: defaults.scopes,
    responseTypes: ['code', 'id_token', 'code id_token'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    conformIdTokenClaims: true,
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.authorizationCode,
      ClientCredentials: ttl.clientCredentials,
      DeviceCode: ttl.deviceCode,
      IdToken: ttl.idToken,
      RefreshToken: ttl.refreshToken,
      Interaction: ttl.interaction,
      Session: ttl.session,
      Grant: ttl.grant,
    },
    routes: {
      authorization: '/authorize',
      token: '/token',
      userinfo: '/userinfo',
      jwks: '/jwks',
      revocation: '/revoke',
      introspection: '/introspect',
      end_session: '/logout',
      device_authorization: '/device_authorization',
      code_verification: '/device',
      registration: '/reg',
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: { enabled: true },
      registration: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: () => {
          throw new Error('no resource servers in the bench');
        },
      },
    },
  });
  return { provider, redis };
}

/** Reads an urlencoded form body. */
async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

/**
 * Adds the sign-in and consent pages (interactions) to the provider as middleware, as
 * oidc-provider's own standalone example does. Returns the request handler.
 */
export function createBaselineApp({ provider, users }) {
  const byName = new Map(users.map((u) => [u.username.toLowerCase(), u]));
  const verifyPassword = (stored, candidate) =>
    stored.startsWith('$argon2') ? argon2Verify(stored, candidate) : Promise.resolve(stored === candidate);

  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(ctx.path);
    if (!match) return next();
    const [, uid, step] = match;
    ctx.set('cache-control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'uid mismatch');
    if (ctx.method === 'GET' && !step) {
      ctx.type = 'html';
      ctx.body =
        details.prompt.name === 'login'
          ? page(
              'Sign in',
              `<form method="post" action="/interaction/${uid}/login"><input name="username"><input name="password" type="password"><button>Sign in</button></form>`,
            )
          : page(
              'Allow access?',
              `<form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>`,
            );
      return;
    }
    if (ctx.method !== 'POST' || !step) return next();
    const form = await readForm(ctx.req);
    if (step === 'login') {
      const user = byName.get((form.get('username') ?? '').toLowerCase());
      if (!user || !(await verifyPassword(user.password, form.get('password') ?? ''))) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = page('Sign in', 'Incorrect username or password.');
        return;
      }
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: user.claims.sub, amr: ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
      ctx.respond = false;
      return;
    }
    const { prompt, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true },
    );
    ctx.respond = false;
  });
  return provider.callback();
}
