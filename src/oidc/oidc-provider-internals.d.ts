/** Types for the oidc-provider internals that internals.ts reads (nothing else may import them). */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  /** The provider's private state; `router` is its route table (lib/helpers/router.js). */
  export default function instance(provider: object): {
    router?: { match(method: string, path: string): unknown };
  };
}

declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  /** Whether an IP address is loopback, private, link-local or otherwise not globally routable. */
  export function isSpecialUseIP(address: string): boolean;
}
