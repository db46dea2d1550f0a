import type { UpstreamConfig } from '../config/upstreams-schema.js';

/**
 * The upstream an authorization request asks for: `upstream_hint=<id>`, else the upstream whose
 * `domains` include the domain of an email-shaped `login_hint`. Undefined: show the sign-in page.
 */
export function pickUpstreamForHints(
  upstreams: readonly UpstreamConfig[],
  params: Record<string, unknown>,
): string | undefined {
  const hint = params.upstream_hint;
  if (typeof hint === 'string' && upstreams.some((u) => u.id === hint)) return hint;
  const login = typeof params.login_hint === 'string' ? params.login_hint.trim().toLowerCase() : '';
  const at = login.lastIndexOf('@');
  if (at < 1) return undefined;
  const domain = login.slice(at + 1);
  return upstreams.find((u) => u.domains.includes(domain))?.id;
}
