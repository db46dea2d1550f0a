/** Types for the oidc-provider internals that internals.ts reads (nothing else may import them). */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  /** The provider's private state; `router` is its route table (lib/helpers/router.js). */
  export default function instance(provider: object): {
    router?: { match(method: string, path: string): unknown };
    /** The token endpoint's handler per grant_type (lib/provider.js registerGrantType). */
    grantTypeHandlers: Map<string, (ctx: unknown) => Promise<void>>;
  };
}

declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  /** Whether an IP address is loopback, private, link-local or otherwise not globally routable. */
  export function isSpecialUseIP(address: string): boolean;
}

declare module 'oidc-provider/lib/helpers/grants.js' {
  /** The helpers oidc-provider binds to the provider and hands to every built-in grant handler. */
  const helpers: Record<string, (provider: object, ...args: never[]) => unknown>;
  export = helpers;
}

declare module 'oidc-provider/lib/actions/grants/device_code.js' {
  /** The built-in device_code grant: handler(provider, boundHelpers, ctx). */
  export function handler(provider: object, helpers: Record<string, unknown>, ctx: unknown): Promise<void>;
  export const grantType: string;
}
