import { Client, InvalidCredentialsError, type Entry } from 'ldapts';
import type { LdapUpstreamConfig } from '../config/upstreams-schema.js';
import type { UpstreamClaims } from './oidc-upstream.js';

/**
 * Escapes a value for an LDAP search filter (`*`, `(`, `)`, `\` and NUL as `\hh`), so a username
 * such as `*)(uid=*` matches itself only.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4515#section-3
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The directory could not be asked (down, slow, TLS or the search account refused). */
export class DirectoryUnavailable extends Error {
  override name = 'DirectoryUnavailable';
}

const first = (value: Entry[string] | undefined): string | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
};

/**
 * Checks a username and password against an LDAP directory: bound as `bindDn`, finds exactly one
 * entry for the (escaped) username, then binds as that entry with the password. An empty password
 * is refused before anything is sent: a simple bind with a DN and no password is an
 * "unauthenticated bind" that many servers answer with success (RFC 4513 §5.1.2).
 * Resolves the user's claims, or undefined when the username or password is wrong.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4513#section-5.1.2
 */
export async function verifyDirectoryPassword(
  config: LdapUpstreamConfig,
  username: string,
  password: string,
): Promise<UpstreamClaims | undefined> {
  if (!password || !username.trim()) return undefined;
  const connect = async () => {
    const client = new Client({
      url: config.url,
      timeout: config.timeoutMs,
      connectTimeout: config.timeoutMs,
    });
    if (config.startTls) await client.startTLS({});
    return client;
  };
  const search = config.userSearch;
  let reader: Client | undefined;
  let entry: Entry;
  let groups: string[] | undefined;
  try {
    reader = await connect();
    await reader.bind(config.bindDn, config.bindPassword);
    const filter = search.filter.replaceAll('{username}', escapeFilterValue(username.trim()));
    const { searchEntries } = await reader.search(search.baseDn, {
      scope: 'sub',
      filter,
      sizeLimit: 2,
      attributes: [
        search.subAttribute,
        search.usernameAttribute,
        search.emailAttribute,
        search.nameAttribute,
      ],
    });
    if (searchEntries.length !== 1) return undefined;
    entry = searchEntries[0]!;
    if (config.groupSearch) {
      const found = await reader.search(config.groupSearch.baseDn, {
        scope: 'sub',
        filter: config.groupSearch.filter.replaceAll('{dn}', escapeFilterValue(entry.dn)),
        attributes: [config.groupSearch.nameAttribute],
      });
      groups = found.searchEntries
        .map((g) => first(g[config.groupSearch!.nameAttribute]))
        .filter((g): g is string => !!g);
    }
  } catch (err) {
    throw new DirectoryUnavailable((err as Error).message);
  } finally {
    await reader?.unbind().catch(() => undefined); // closing a connection that already failed
  }
  const user = await connect().catch((err: Error) => {
    throw new DirectoryUnavailable(err.message);
  });
  try {
    await user.bind(entry.dn, password);
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return undefined;
    throw new DirectoryUnavailable((err as Error).message);
  } finally {
    await user.unbind().catch(() => undefined); // as above
  }
  const sub = first(entry[search.subAttribute]);
  if (!sub) throw new DirectoryUnavailable(`entry has no ${search.subAttribute}`);
  const email = first(entry[search.emailAttribute]);
  const name = first(entry[search.nameAttribute]);
  return {
    iss: config.url,
    sub,
    preferred_username: first(entry[search.usernameAttribute]) ?? username.trim(),
    ...(email ? { email, email_verified: config.emailVerified } : {}),
    ...(name ? { name } : {}),
    ...(groups ? { groups } : {}),
  };
}
