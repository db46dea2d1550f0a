import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/** The two shared-secret methods, which oidc-provider accepts interchangeably. */
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * The shared-secret method a request presents: `client_secret` in the body is
 * client_secret_post, an `Authorization: Basic` header client_secret_basic (oidc-provider has
 * already refused requests that present both). Undefined for every other mechanism.
 */
function presentedSecretMethod(ctx: KoaContextWithOIDC): string | undefined {
  if (ctx.oidc.params?.client_secret) return 'client_secret_post';
  if (/^basic /i.test(ctx.get('authorization'))) return 'client_secret_basic';
  return undefined;
}

/**
 * Refuses a shared secret presented by the method the client did not register: oidc-provider
 * lets a client_secret_basic client send client_secret_post and vice versa, but RFC 7591 §2's
 * `token_endpoint_auth_method` is the one method the client uses, and FAPI and security reviews
 * expect only that method accepted. Runs once the client is found and before its secret is
 * compared (internals.ts, interceptClientAuthentication), so nothing is issued or revoked; the 401
 * `invalid_client` counts against the client-auth failure budgets like any other.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-2
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function enforceRegisteredAuthMethod(ctx: KoaContextWithOIDC, client: unknown): void {
  const registered = (client as { clientAuthMethod?: string }).clientAuthMethod;
  const presented = presentedSecretMethod(ctx);
  if (presented === undefined || registered === undefined || !SECRET_METHODS.has(registered)) return;
  if (presented !== registered) {
    throw new errors.InvalidClientAuth(`client registered for ${registered} authenticated with ${presented}`);
  }
}
