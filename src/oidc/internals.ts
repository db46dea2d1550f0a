/**
 * The one module that depends on details of oidc-provider beyond its documented API.
 * Keep every such dependency here, typed, so an upgrade has one place to check.
 */

import { createHash } from 'node:crypto';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import * as deviceCodeGrant from 'oidc-provider/lib/actions/grants/device_code.js';
import type { Store } from '../storage/store.js';

/**
 * Reads a hidden input's value out of a form that oidc-provider hands to a page source
 * (`userCodeInputSource`, `userCodeConfirmSource`, `logoutSource`). We render our own forms
 * from views/, and need the anti-CSRF `xsrf` value oidc-provider generated for them.
 */
export function hiddenFieldValue(formHtml: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(formHtml);
  return match?.[1] ?? '';
}

/** Error names oidc-provider passes to userCodeInputSource when it re-renders the input page. */
export const USER_CODE_ERRORS = {
  NoCodeError: 'Enter the code shown on your device.',
  NotFoundError: 'That code is not valid. Check the code on your device and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new code.',
  AlreadyUsedError: 'That code has already been used. Start again on your device to get a new code.',
  AbortedError: 'The sign-in request was cancelled.',
} as const satisfies Record<string, string>;

/** Reads the `action` of the form oidc-provider hands to a page source. */
export function formAction(formHtml: string, fallback: string): string {
  return /action="([^"]*)"/.exec(formHtml)?.[1] ?? fallback;
}

interface IdTokenInstance {
  available?: Record<string, unknown>;
  ctx?: { oidc?: { route?: string; entities?: { AccessToken?: { jti?: string; format?: string } } } };
  extra?: Record<string, unknown>;
  set(key: string, value: unknown): void;
}

/**
 * Adds `at_hash` to ID tokens issued by the token endpoint, and `auth_time` to every ID token. oidc-provider sets it only for
 * ID tokens returned from /authorize; OpenID Connect Core §3.1.3.6 allows it at the token
 * endpoint too, and relying parties use it to bind the two tokens. The value of an opaque access
 * token is its `jti` (oidc-provider's formats/opaque.js); the hash itself is computed by
 * oidc-provider when it signs (models/id_token.js, the `hashes` claims).
 */
export function addAtHashAtTokenEndpoint(IdToken: { prototype: unknown }): void {
  const proto = IdToken.prototype as IdTokenInstance & { issue(options?: { use?: string }): Promise<string> };
  const issue = proto.issue;
  proto.issue = function issueWithAtHash(this: IdTokenInstance, options?: { use?: string }) {
    const at = this.ctx?.oidc?.route === 'token' ? this.ctx.oidc.entities?.AccessToken : undefined;
    if (
      options?.use === 'idtoken' &&
      at?.jti &&
      (at.format ?? 'opaque') === 'opaque' &&
      !this.extra?.at_hash
    ) {
      this.set('at_hash', at.jti);
    }
    // auth_time in every ID token (OIDC Core §2 makes it optional unless asked for); relying
    // parties use it for max_age decisions of their own. oidc-provider masks it out otherwise.
    const authTime = this.available?.auth_time;
    if (options?.use === 'idtoken' && typeof authTime === 'number' && this.extra?.auth_time === undefined) {
      this.set('auth_time', authTime);
    }
    return issue.call(this as never, options);
  };
}

/**
 * Puts `idp` (the upstream identity provider that signed the user in, README "Upstream identity
 * providers") in every ID token whose account claims carry it: findAccount returns it for the
 * `id_token` use only, and oidc-provider would otherwise mask it out as no scope names it.
 */
export function addIdpToIdTokens(IdToken: { prototype: unknown }): void {
  const proto = IdToken.prototype as IdTokenInstance & { issue(options?: { use?: string }): Promise<string> };
  const issue = proto.issue;
  proto.issue = function issueWithIdp(this: IdTokenInstance, options?: { use?: string }) {
    const idp = this.available?.idp;
    if (options?.use === 'idtoken' && typeof idp === 'string' && this.extra?.idp === undefined) {
      this.set('idp', idp);
    }
    return issue.call(this as never, options);
  };
}

/**
 * Puts `sid` in every ID token. oidc-provider includes it only for clients registered for
 * back-channel logout (Client#includeSid); the session id is also what RP-initiated and
 * front-channel logout use, and relying parties rely on it to tie tokens to a session.
 */
export function includeSidForAllClients(Client: { prototype: unknown }): void {
  (Client.prototype as { includeSid(): boolean }).includeSid = () => true;
}

/**
 * Refuses a response_type the provider supports but the client is not registered for with
 * `unauthorized_client` (RFC 6749 §4.1.2.1 and §4.2.2.1: "not authorized to request an
 * authorization code using this method"), where oidc-provider says `invalid_request`. It asks
 * Client#responseTypeAllowed only in that check (actions/authorization/response_parameters.js,
 * checkResponseType), and sends what the check throws to the redirect_uri like any
 * authorization error. Response types the provider does not support stay
 * `unsupported_response_type` (that check comes first).
 */
export function refuseUnregisteredResponseTypes(Client: { prototype: unknown }): void {
  const proto = Client.prototype as { responseTypeAllowed(type: string): boolean };
  const allowed = proto.responseTypeAllowed;
  proto.responseTypeAllowed = function responseTypeAllowed(this: unknown, type: string) {
    if (allowed.call(this, type)) return true;
    throw new errors.UnauthorizedClient('requested response_type is not allowed for this client');
  };
}

/** oidc-provider routes that authenticate the client (their pipelines include shared/client_auth.js). */
export const CLIENT_AUTH_ROUTES: ReadonlySet<string> = new Set([
  'token',
  'introspection',
  'revocation',
  'device_authorization',
  'pushed_authorization_request',
  'backchannel_authentication',
]);

/**
 * Runs `before(ctx, clientId)` just before oidc-provider looks up the client a request
 * authenticates as, and `after(ctx, client)` once it has found it, both before it compares
 * credentials, whatever the method: the id from the Basic header, the `client_id` form
 * parameter (client_secret_post, none) or a client assertion's `sub` (private_key_jwt). A
 * check that throws (an oidc-provider error) refuses the request with that error.
 *
 * oidc-provider has no event or hook at that point: shared/client_auth.js (authenticateClient)
 * works out the client id, calls `provider.Client.find(clientId)`, then checks the
 * credentials. So this wraps `Client.find` once and acts on the first call made while serving a
 * client-authenticating route with no client resolved yet (`ctx.oidc.entities.Client`), the
 * request coming from `Provider.ctx` (the provider's AsyncLocalStorage). Other callers of
 * `Client.find` (outside a request, or once the client is known) pass straight through.
 */
export function interceptClientAuthentication(
  provider: Provider,
  checks: {
    before: (ctx: KoaContextWithOIDC, clientId: string) => Promise<void>;
    after: (ctx: KoaContextWithOIDC, client: unknown) => void;
  },
): void {
  const Client = provider.Client as unknown as { find(id: string, ...rest: unknown[]): Promise<unknown> };
  const find = Client.find.bind(Client);
  const seen = new WeakSet<object>();
  Client.find = async (id: string, ...rest: unknown[]) => {
    const ctx = Provider.ctx;
    if (
      !ctx ||
      typeof id !== 'string' ||
      seen.has(ctx) ||
      !CLIENT_AUTH_ROUTES.has(ctx.oidc.route) ||
      ctx.oidc.entities.Client
    ) {
      return find(id, ...rest);
    }
    seen.add(ctx);
    await checks.before(ctx, id);
    const client = await find(id, ...rest);
    if (client) checks.after(ctx, client);
    return client;
  };
}

interface ReplayDetectionModel {
  unique(iss: string, jti: string, exp: number): Promise<boolean>;
}

/**
 * oidc-provider's replay check (DPoP proof `jti`s, client assertion `jti`s) reads the record,
 * then writes it: two copies of one proof sent at once could both pass. Replace it with one
 * `setRecordIfAbsent` (SET NX on Redis), so exactly one use of a `jti` wins, on every instance.
 */
export function makeReplayDetectionAtomic(model: object, store: Store): void {
  (model as ReplayDetectionModel).unique = async (iss, jti, exp) => {
    const id = createHash('sha256').update(`${iss}${jti}`).digest('base64url');
    const ttl = Math.max(1, exp - Math.floor(Date.now() / 1000));
    return store.setRecordIfAbsent(`replay:${id}`, 1, ttl);
  };
}

/** The longest a request object may still be valid for when it arrives (its `exp` from now). */
export const REQUEST_OBJECT_MAX_LIFETIME_SECONDS = 3600;

type AssertRequestObject = (
  ctx: KoaContextWithOIDC,
  claims: Record<string, unknown>,
  header: Record<string, unknown>,
  client: { clientId: string },
) => Promise<void>;

interface RequestObjectState {
  features: { requestObjects: { assertJwtClaimsAndHeader: AssertRequestObject } };
  configuration: { clockTolerance: number };
}

/**
 * Adds Gatehouse's rules for signed request objects (RFC 9101 §10.2 leaves them to the server)
 * to oidc-provider's own (`requestObjects.assertJwtClaimsAndHeader`, which carries the FAPI
 * rules and is kept): `exp` is required and at most an hour away, and a `jti`, when present, is
 * accepted once per client on every instance (the store-backed ReplayDetection). A request
 * object resumed from /par was checked when it was pushed and is not counted again.
 *
 * oidc-provider calls this hook before it verifies the signature, so a forged object can spend
 * a `jti`; it could do no more than the holder of the real object already can (use it first),
 * and the `exp` limit bounds how long such a record is kept.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9101#section-10.2
 */
export function refuseReplayedRequestObjects(provider: Provider): void {
  const state = instance(provider) as unknown as RequestObjectState;
  const { requestObjects } = state.features;
  const assertOwn = requestObjects.assertJwtClaimsAndHeader;
  requestObjects.assertJwtClaimsAndHeader = async (ctx, claims, header, client) => {
    await assertOwn(ctx, claims, header, client);
    if ('PushedAuthorizationRequest' in ctx.oidc.entities) return;
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number') {
      throw new errors.InvalidRequestObject("Request Object is missing the 'exp' claim");
    }
    if (claims.exp - now > REQUEST_OBJECT_MAX_LIFETIME_SECONDS) {
      throw new errors.InvalidRequestObject("Request Object 'exp' claim is too far in the future");
    }
    if (claims.jti === undefined) return;
    if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 256) {
      throw new errors.InvalidRequestObject("Request Object 'jti' claim must be a string");
    }
    const unique = await (provider.ReplayDetection as unknown as ReplayDetectionModel).unique(
      `request_object:${client.clientId}`,
      claims.jti,
      claims.exp + state.configuration.clockTolerance,
    );
    if (!unique) throw new errors.InvalidRequestObject('Request Object was already used (jti)');
  };
}

/**
 * Answers a pushed request spent by a concurrent authorization response with
 * `invalid_request_uri`, as oidc-provider does when it finds it already spent
 * (actions/authorization/respond.js checks `consumed`, then consumes): the store's atomic consume
 * (one winner among parallel requests) throws `invalid_grant`, an error the authorization
 * endpoint does not have.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-4
 */
export function spendPushedRequestsOnce(PushedAuthorizationRequest: { prototype: unknown }): void {
  const proto = PushedAuthorizationRequest.prototype as { consume(): Promise<void> };
  const consume = proto.consume;
  proto.consume = async function consumeOnce(this: unknown) {
    try {
      await consume.call(this);
    } catch (err) {
      if (err instanceof errors.InvalidGrant) {
        throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
      }
      throw err;
    }
  };
}

/**
 * Lets a model keep one more property in its stored payload. oidc-provider stores only the
 * properties its model class lists in the static `IN_PAYLOAD` (models/payload.js picks them, and
 * caches the list per class on first use), so call this right after the Provider is built.
 */
export function extendModelPayload(Model: { IN_PAYLOAD: string[] }, property: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(Model, 'IN_PAYLOAD');
  const base = descriptor?.get ? () => descriptor.get!.call(Model) as string[] : () => Model.IN_PAYLOAD;
  const extended = [...base(), property];
  Object.defineProperty(Model, 'IN_PAYLOAD', { configurable: true, get: () => extended });
}

type ProviderStep = (ctx: KoaContextWithOIDC) => Promise<void>;
let endSessionStep: Promise<ProviderStep> | undefined;

/**
 * Signs the browser out as `POST /logout/confirm` with `logout=yes` would: grants revoked (those
 * that persist logout excepted), session destroyed, cookie cleared, 303 to the
 * `post_logout_redirect_uri` (with `state`) or the success page. Called from `logoutSource`,
 * where oidc-provider has validated the request and stored its details in the session state
 * (client, `state`, `post_logout_redirect_uri`) exactly as the confirm step reads them. It runs
 * oidc-provider's own final step (`endSession` in lib/actions/end_session.js) rather than a copy
 * of it, so grant revocation and events stay the library's.
 *
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export async function endSessionWithoutConfirmation(ctx: KoaContextWithOIDC): Promise<void> {
  endSessionStep ??= loadEndSessionStep();
  const step = await endSessionStep;
  // The confirm step reads only `logout` from its parameters ("yes": the whole session ends).
  (ctx.oidc as unknown as { params: Record<string, string> }).params = { logout: 'yes' };
  await step(ctx);
}

async function loadEndSessionStep(): Promise<ProviderStep> {
  const specifier: string = 'oidc-provider/lib/actions/end_session.js';
  const mod = (await import(specifier)) as { confirm?: unknown[] };
  const step = mod.confirm?.at(-1);
  if (typeof step !== 'function' || step.name !== 'endSession') {
    throw new Error('oidc-provider changed: lib/actions/end_session.js has no final endSession step');
  }
  return step as ProviderStep;
}

interface IdTokenHintEntity {
  payload?: { sub?: unknown; sid?: unknown };
}

/**
 * Whether `/logout`'s `id_token_hint` (already verified by oidc-provider: signature, issuer,
 * audience) names the browser's current session: its `sid` is the one this session issued to
 * the hint's client and its `sub` is the signed-in account. RP-Initiated Logout 1.0 §2 asks the
 * user to confirm only when this does not hold.
 *
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export function idTokenHintMatchesSession(ctx: KoaContextWithOIDC): boolean {
  const hint = ctx.oidc.entities.IdTokenHint as IdTokenHintEntity | undefined;
  const session = ctx.oidc.session;
  const client = ctx.oidc.client;
  if (!hint?.payload || !session?.accountId || !client) return false;
  const sid = session.sidFor(client.clientId);
  return typeof sid === 'string' && hint.payload.sid === sid && hint.payload.sub === session.accountId;
}

/** The methods oidc-provider registers routes with (lib/helpers/initialize_app.js). */
const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;

/**
 * The methods oidc-provider serves at `path`, from its own route table (so enabled features,
 * `enableHttpPostMethods` and CORS preflight routes are reflected as configured), HEAD with GET
 * as its router does; empty when no route has this path.
 */
export function providerRouteMethods(provider: Provider, path: string): string[] {
  const { router } = instance(provider);
  if (!router) return [];
  const methods: string[] = [];
  for (const method of ROUTE_METHODS) {
    if (router.match(method, path)) methods.push(method, ...(method === 'GET' ? ['HEAD'] : []));
  }
  return methods;
}

export { isSpecialUseIP } from 'oidc-provider/lib/helpers/fetch_request.js';

type LogoutTokenSender = (sub: string, sid: string | undefined) => Promise<void>;
const SEND_NOW = Symbol('gatehouse.backchannelLogoutNow');
type BackchannelClient = { clientId: string; backchannelLogoutUri?: string } & {
  [SEND_NOW]?: LogoutTokenSender;
};

/**
 * Makes the logout page independent of logout token deliveries. oidc-provider's `endSession`
 * (lib/actions/end_session.js) awaits `client.backchannelLogout(sub, sid)` for every client of
 * the session before answering, so one slow relying party would hold the browser. This replaces
 * that method with one that hands the delivery to `schedule` and resolves at once; the library's
 * own method (which builds and signs the logout token and POSTs it) stays reachable through
 * `sendLogoutTokenNow`. oidc-provider's `backchannel.success` event then means "scheduled".
 *
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
export function sendBackchannelLogoutsInBackground(
  Client: { prototype: unknown },
  schedule: (client: BackchannelClient, send: () => Promise<void>) => void,
): void {
  const proto = Client.prototype as BackchannelClient & { backchannelLogout: LogoutTokenSender };
  const original = proto.backchannelLogout;
  proto[SEND_NOW] = original;
  proto.backchannelLogout = function backchannelLogout(this: BackchannelClient, sub, sid) {
    schedule(this, () => original.call(this, sub, sid));
    return Promise.resolve();
  };
}

/**
 * Builds, signs and POSTs one logout token to `client`'s `backchannel_logout_uri` now, with
 * oidc-provider's own Client#backchannelLogout (its `sid` only when the client registered
 * `backchannel_logout_session_required`, as the library decides).
 */
export function sendLogoutTokenNow(client: unknown, sub: string, sid: string | undefined): Promise<void> {
  const send = (client as BackchannelClient)[SEND_NOW];
  if (!send) throw new Error('sendBackchannelLogoutsInBackground was not applied to this provider');
  return send.call(client, sub, sid);
}

/** A code or token a grant redeems (oidc-provider's DeviceCode, AuthorizationCode, …), as far as checks read it. */
export interface GrantSource {
  clientId: string;
  grantId: string;
  /** When it was redeemed, in epoch seconds (the store's consume sets it); absent until then. */
  consumed?: number;
}

/** What to run around oidc-provider's redemption of a device code at /token. */
export interface DeviceCodeRedemptionHooks {
  /**
   * Runs after the client has authenticated and the code has been found and matched to that
   * client, just before the library's own step (a consumed code revokes its grant, otherwise it
   * is consumed). Throwing an oidc-provider error answers the request; the library's step does
   * not run.
   */
  beforeConsume?(ctx: KoaContextWithOIDC, code: GrantSource): void;
  /** Runs when an authenticated client presents a code issued to another client (then refused as "client mismatch"). */
  otherClientsCode?(ctx: KoaContextWithOIDC, code: GrantSource): Promise<void>;
  /** Runs after the client has authenticated, just before the library looks the code up. */
  beforeFind?(ctx: KoaContextWithOIDC, deviceCode: string): Promise<void>;
}

/** The hooks registered per provider: the grant is re-registered once and runs them all. */
const redemptionHooks = new WeakMap<Provider, DeviceCodeRedemptionHooks[]>();

type FindGrantSource = (
  ctx: unknown,
  Model: GrantSourceModel,
  value: string,
  label: string,
) => Promise<GrantSource>;
interface GrantSourceModel {
  find(value: string, options: { ignoreExpiration: boolean }): Promise<GrantSource | undefined>;
}

/**
 * Hooks into the device_code grant where oidc-provider has no hook: the built-in handler
 * (actions/grants/device_code.js) calls the grant helpers it was bound to at start-up
 * (helpers/grant_source.js findGrantSource, consumeGrantSource). So the same handler is
 * registered again in place of the bound one (the grant type keeps its registered parameters),
 * bound to the same helpers with those two wrapped.
 */
export function interceptDeviceCodeRedemption(provider: Provider, hooks: DeviceCodeRedemptionHooks): void {
  const handlers = instance(provider).grantTypeHandlers;
  if (!handlers.has(deviceCodeGrant.grantType)) return; // the device flow is off
  const registered = redemptionHooks.get(provider);
  if (registered) {
    registered.push(hooks);
    return;
  }
  const all = [hooks];
  redemptionHooks.set(provider, all);
  const bind = (fn: (provider: object, ...args: never[]) => unknown) => fn.bind(undefined, provider);
  const helpers: Record<string, unknown> = Object.fromEntries(
    Object.entries(grantHelpers).map(([name, helper]) => [
      name,
      typeof helper === 'function' ? bind(helper) : helper,
    ]),
  );
  const find = helpers.findGrantSource as FindGrantSource;
  helpers.findGrantSource = async (
    ctx: KoaContextWithOIDC,
    Model: GrantSourceModel,
    value: string,
    label: string,
  ) => {
    for (const h of all) await h.beforeFind?.(ctx, value);
    try {
      return await find(ctx, Model, value, label);
    } catch (err) {
      if ((err as { error_detail?: unknown }).error_detail === 'client mismatch') {
        const source = await Model.find(value, { ignoreExpiration: true });
        if (source) for (const h of all) await h.otherClientsCode?.(ctx, source);
      }
      throw err;
    }
  };
  const consume = helpers.consumeGrantSource as (
    ctx: unknown,
    source: unknown,
    label: string,
  ) => Promise<void>;
  helpers.consumeGrantSource = async (ctx: KoaContextWithOIDC, source: GrantSource, label: string) => {
    for (const h of all) h.beforeConsume?.(ctx, source);
    return consume(ctx, source, label);
  };
  handlers.set(deviceCodeGrant.grantType, deviceCodeGrant.handler.bind(undefined, provider, helpers));
}

/**
 * Revokes a grant and everything issued under it, whoever asks: the store's revokeByGrantId
 * removes every token and code of the grant (storage/store.ts GRANTABLE_MODELS), then the grant
 * itself, and `grant.revoked` is emitted, as oidc-provider's helpers/revoke.js does for the
 * requesting client's own grants (which it scopes to that client's grant types).
 */
export async function revokeWholeGrant(ctx: KoaContextWithOIDC, grantId: string): Promise<void> {
  const { provider } = ctx.oidc;
  const models = provider as unknown as Record<
    'AccessToken' | 'Grant',
    { adapter: { revokeByGrantId(id: string): Promise<void>; destroy(id: string): Promise<void> } }
  >;
  await models.AccessToken.adapter.revokeByGrantId(grantId);
  await models.Grant.adapter.destroy(grantId);
  provider.emit('grant.revoked', ctx, grantId);
}

/**
 * Sets the `acr` this authorization's code, ID token or device grant carries. oidc-provider reads
 * `ctx.oidc.acr` (a getter returning the session's stored `acr`, lib/helpers/oidc_context.js)
 * when it builds them; an own property on this request's context shadows it without changing
 * the stored session. `undefined` leaves the claim out.
 */
export function setRequestAcr(ctx: KoaContextWithOIDC, acr: string | undefined): void {
  Object.defineProperty(ctx.oidc, 'acr', { configurable: true, enumerable: true, value: acr });
}
