import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { freePort } from './redis-server.js';

export const LDAP_SUFFIX = 'dc=example,dc=org';
export const LDAP_ADMIN = { dn: `cn=admin,${LDAP_SUFFIX}`, password: 'ldap-admin-secret' };
/** The account Gatehouse searches the directory with. */
export const LDAP_READER = { dn: `cn=reader,${LDAP_SUFFIX}`, password: 'ldap-reader-secret' };

export interface LdapPerson {
  uid: string;
  cn: string;
  mail: string;
  password: string;
}

export interface Slapd {
  url: string;
  stop(): Promise<void>;
}

/**
 * A private OpenLDAP server (Debian's slapd) for one test file: its own port and directory,
 * seeded with `people` under ou=people and `groups` (groupOfNames) under ou=groups. `.ci/run`
 * makes sure slapd is installed.
 */
export async function startSlapd(
  people: LdapPerson[],
  groups: { cn: string; members: string[] }[] = [],
): Promise<Slapd> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-slapd-'));
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'database mdb',
      `suffix "${LDAP_SUFFIX}"`,
      `rootdn "${LDAP_ADMIN.dn}"`,
      `rootpw ${LDAP_ADMIN.password}`,
      `directory ${dir}`,
      'maxsize 10485760',
      // Anyone may bind (authenticate); only the reader and the admin may read the directory.
      `access to attrs=userPassword by anonymous auth by * none`,
      `access to * by dn.exact="${LDAP_READER.dn}" read by * none`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    '/usr/sbin/slapd',
    ['-f', conf, '-h', `ldap://127.0.0.1:${port}/`, '-d', '0'],
    {
      stdio: 'ignore',
    },
  );
  const url = `ldap://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port);
    const admin = new Client({ url });
    await admin.bind(LDAP_ADMIN.dn, LDAP_ADMIN.password);
    try {
      await admin.add(LDAP_SUFFIX, {
        objectClass: ['dcObject', 'organization'],
        dc: 'example',
        o: 'Example',
      });
      await admin.add(`ou=people,${LDAP_SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'people' });
      await admin.add(`ou=groups,${LDAP_SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'groups' });
      await admin.add(LDAP_READER.dn, {
        objectClass: ['organizationalRole', 'simpleSecurityObject'],
        cn: 'reader',
        userPassword: LDAP_READER.password,
      });
      for (const p of people) {
        await admin.add(`uid=${p.uid},ou=people,${LDAP_SUFFIX}`, {
          objectClass: 'inetOrgPerson',
          uid: p.uid,
          cn: p.cn,
          sn: p.cn.split(' ').pop()!,
          mail: p.mail,
          userPassword: p.password,
        });
      }
      for (const g of groups) {
        await admin.add(`cn=${g.cn},ou=groups,${LDAP_SUFFIX}`, {
          objectClass: 'groupOfNames',
          cn: g.cn,
          member: g.members.map((uid) => `uid=${uid},ou=people,${LDAP_SUFFIX}`),
        });
      }
    } finally {
      await admin.unbind();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`slapd did not listen on ${port}`);
}

/** The people of the test directories. */
export const DIRECTORY_PEOPLE = [
  { uid: 'dana', cn: 'Dana Directory', mail: 'dana@example.org', password: 'dana-directory-pass' },
  { uid: 'alice.dir', cn: 'Alice In Directory', mail: 'alice@example.com', password: 'alice-directory-pass' },
];

/** The broker's LDAP upstream for a test slapd. */
export function ldapUpstream(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'dir',
    type: 'ldap',
    name: 'Directory',
    url,
    bindDn: LDAP_READER.dn,
    bindPassword: LDAP_READER.password,
    userSearch: { baseDn: `ou=people,${LDAP_SUFFIX}` },
    groupSearch: { baseDn: `ou=groups,${LDAP_SUFFIX}` },
    emailVerified: true,
    linkByEmail: true,
    timeoutMs: 2000,
    ...extra,
  };
}
