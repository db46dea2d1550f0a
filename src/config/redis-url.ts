/**
 * Parses REDIS_URL into connection settings for ioredis. Accepted forms:
 *   redis://[user[:password]@]host[:port][/db]            one server (rediss:// for TLS)
 *   redis-sentinel://[user[:password]@]s1[:port],s2[:port][/db]?name=mymaster[&sentinelPassword=…]
 *   redis-cluster://[user[:password]@]n1[:port],n2[:port]   a cluster, from any of its nodes
 * (rediss-sentinel:// and rediss-cluster:// for TLS). Port defaults: 6379, sentinels 26379.
 */
export interface RedisSettings {
  mode: 'single' | 'sentinel' | 'cluster';
  nodes: { host: string; port: number }[];
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
  sentinelName?: string;
  sentinelPassword?: string;
}

const SCHEMES: Record<string, { mode: RedisSettings['mode']; tls: boolean }> = {
  redis: { mode: 'single', tls: false },
  rediss: { mode: 'single', tls: true },
  'redis-sentinel': { mode: 'sentinel', tls: false },
  'rediss-sentinel': { mode: 'sentinel', tls: true },
  'redis-cluster': { mode: 'cluster', tls: false },
  'rediss-cluster': { mode: 'cluster', tls: true },
};

export function parseRedisUrl(url: string): RedisSettings {
  const match = /^([a-z-]+):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/(\d*))?(?:\?([^#]*))?$/.exec(url.trim());
  if (!match) throw new Error('expected redis://[user:password@]host[:port][/db] (see README "Redis")');
  const [, scheme = '', auth, hosts = '', db, query] = match;
  const kind = SCHEMES[scheme];
  if (!kind) throw new Error(`unsupported scheme "${scheme}:" (use ${Object.keys(SCHEMES).join(', ')})`);
  const defaultPort = kind.mode === 'sentinel' ? 26379 : 6379;
  const nodes = hosts.split(',').map((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m || !m[1]) throw new Error(`bad host "${entry}"`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
  });
  if (kind.mode === 'single' && nodes.length !== 1)
    throw new Error('redis:// takes one host; use redis-cluster:// or redis-sentinel:// for several');
  const params = new URLSearchParams(query ?? '');
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    const colon = auth.indexOf(':');
    username = decodeURIComponent(colon === -1 ? auth : auth.slice(0, colon)) || undefined;
    password = colon === -1 ? undefined : decodeURIComponent(auth.slice(colon + 1)) || undefined;
  }
  const settings: RedisSettings = { mode: kind.mode, nodes, tls: kind.tls, db: db ? Number(db) : 0 };
  if (username) settings.username = username;
  if (password) settings.password = password;
  if (kind.mode === 'sentinel') {
    settings.sentinelName = params.get('name') ?? 'mymaster';
    const sentinelPassword = params.get('sentinelPassword');
    if (sentinelPassword) settings.sentinelPassword = sentinelPassword;
  }
  if (kind.mode === 'cluster' && settings.db !== 0) throw new Error('Redis Cluster has only database 0');
  return settings;
}
