import type { BrowserUpstreamConfig } from '../config/upstreams-schema.js';
import { createGithubUpstream } from './github-upstream.js';
import { createOidcUpstream, type Upstream } from './oidc-upstream.js';

/** The round trip for one configured upstream, by its `type`. */
export function createUpstream(config: BrowserUpstreamConfig): Upstream {
  return config.type === 'github' ? createGithubUpstream(config) : createOidcUpstream(config);
}
