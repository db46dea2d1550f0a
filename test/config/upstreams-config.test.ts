import { ConfigError, loadConfig } from '../../src/config/load-config.js';

const corp = {
  id: 'corp',
  type: 'oidc',
  name: 'Corp',
  issuer: 'https://login.corp.example',
  clientId: 'gatehouse',
  clientSecret: 'a-client-secret',
};

/** The message loadConfig refuses these upstreams with, or '' when it accepts them. */
function refusal(upstreams: unknown[], env: Record<string, string> = {}): string {
  try {
    loadConfig({ env: { PORT: '3000', ...env }, overrides: { upstreams } });
    return '';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
}

describe('configuration key upstreams', () => {
  it('is empty by default', () => {
    expect(loadConfig({ env: { PORT: '3000' } }).upstreams).toEqual([]);
  });

  it('fills in the defaults of an oidc upstream', () => {
    const [upstream] = loadConfig({ env: { PORT: '3000' }, overrides: { upstreams: [corp] } }).upstreams;
    expect(upstream).toMatchObject({
      scopes: ['openid', 'email', 'profile'],
      claims: { email: 'email', email_verified: 'email_verified', name: 'name' },
      allowedEmailDomains: [],
      domains: [],
      linkByEmail: false,
      fetchUserinfo: true,
      timeoutMs: 5000,
    });
  });

  it.each([
    ['upstreams.0.id: lower-case letters', { ...corp, id: 'Corp!' }],
    ['upstreams.0.issuer:', { ...corp, issuer: 'not a url' }],
    [
      'upstreams.0.clientSecret: give exactly one of clientSecret or privateKeyJwk',
      { ...corp, clientSecret: undefined },
    ],
    [
      'upstreams.0.clientSecret: give exactly one of clientSecret or privateKeyJwk',
      { ...corp, privateKeyJwk: { kty: 'EC' } },
    ],
    ['upstreams.0.scopes: must include openid', { ...corp, scopes: ['email'] }],
    [
      'upstreams.0.claims.uid: sub is chosen by Gatehouse and cannot be mapped',
      { ...corp, claims: { uid: 'sub' } },
    ],
    ['upstreams.0.domains.0: a lower-case domain name', { ...corp, domains: ['Corp.Example'] }],
    ['upstreams.0.type: must be "oidc", "github" or "ldap"', { ...corp, type: 'saml' }],
    ['upstreams.0.clientSecrt: unknown key', { ...corp, clientSecrt: 'typo' }],
    ['upstreams.0.timeoutMs:', { ...corp, timeoutMs: 10 }],
  ])(
    'refuses an upstream with a bad value, naming the key: %s',
    (message: string, upstream: Record<string, unknown>) => {
      expect(refusal([upstream])).toContain(message);
    },
  );

  it('refuses two upstreams with one id, or one domain claimed twice', () => {
    expect(refusal([corp, corp])).toContain('upstreams.1.id: duplicate id "corp"');
    expect(
      refusal([
        { ...corp, domains: ['corp.example'] },
        { ...corp, id: 'other', domains: ['corp.example'] },
      ]),
    ).toContain('upstreams.1.domains.0: "corp.example" is already claimed by upstream "corp"');
  });

  it('refuses an http upstream issuer in production unless GATEHOUSE_ALLOW_INSECURE=http-upstreams', () => {
    const plain = [{ ...corp, issuer: 'http://login.corp.example' }];
    const production = {
      NODE_ENV: 'production',
      GATEHOUSE_ALLOW_INSECURE:
        'memory-store,default-cookie-keys,http-issuer,demo-accounts,plain-passwords,open-metrics',
    };
    expect(refusal(plain, production)).toContain(
      'upstreams.0.issuer: NODE_ENV=production signs people in only through https upstreams (or GATEHOUSE_ALLOW_INSECURE=http-upstreams)',
    );
    expect(refusal([corp], production)).toBe('');
    const optedIn = {
      ...production,
      GATEHOUSE_ALLOW_INSECURE: `${production.GATEHOUSE_ALLOW_INSECURE},http-upstreams`,
    };
    expect(refusal(plain, optedIn)).toBe('');
    expect(refusal(plain)).toBe(''); // outside production
  });

  it('fills in the defaults of a github upstream and refuses an http baseUrl in production', () => {
    const github = { id: 'github', type: 'github', clientId: 'Iv1.x', clientSecret: 'secret' };
    const [upstream] = loadConfig({ env: { PORT: '3000' }, overrides: { upstreams: [github] } }).upstreams;
    expect(upstream).toMatchObject({
      name: 'GitHub',
      baseUrl: 'https://github.com',
      teams: false,
      linkByEmail: false,
    });
    expect(refusal([{ ...github, scopes: ['x'] }])).toContain('upstreams.0.scopes: unknown key');
    expect(refusal([{ ...github, clientSecret: undefined }])).toContain('upstreams.0.clientSecret:');
    const production = {
      NODE_ENV: 'production',
      GATEHOUSE_ALLOW_INSECURE:
        'memory-store,default-cookie-keys,http-issuer,demo-accounts,plain-passwords,open-metrics',
    };
    expect(refusal([{ ...github, baseUrl: 'http://ghe.corp.example' }], production)).toContain(
      'upstreams.0.baseUrl: NODE_ENV=production signs people in only through https upstreams (or GATEHOUSE_ALLOW_INSECURE=http-upstreams)',
    );
    expect(refusal([github], production)).toBe('');
  });

  it('validates an ldap upstream and refuses ldap:// without startTls in production unless plain-ldap', () => {
    const ldap = {
      id: 'dir',
      type: 'ldap',
      url: 'ldap://ldap.corp.example',
      bindDn: 'cn=reader,dc=corp',
      bindPassword: 'secret',
      userSearch: { baseDn: 'ou=people,dc=corp' },
    };
    const [upstream] = loadConfig({ env: { PORT: '3000' }, overrides: { upstreams: [ldap] } }).upstreams;
    expect(upstream).toMatchObject({
      name: 'Directory',
      startTls: false,
      passwordOrder: 'local-first',
      emailVerified: false,
      userSearch: { filter: '(uid={username})', subAttribute: 'entryUUID', emailAttribute: 'mail' },
    });
    expect(refusal([{ ...ldap, userSearch: { baseDn: 'x', filter: '(uid=bob)' } }])).toContain(
      'upstreams.0.userSearch.filter: must contain {username}',
    );
    expect(refusal([{ ...ldap, url: 'http://ldap.corp.example' }])).toContain('upstreams.0.url:');
    const production = {
      NODE_ENV: 'production',
      GATEHOUSE_ALLOW_INSECURE:
        'memory-store,default-cookie-keys,http-issuer,demo-accounts,plain-passwords,open-metrics',
    };
    expect(refusal([ldap], production)).toContain(
      'upstreams.0.url: NODE_ENV=production sends passwords to a directory only over ldaps:// or with startTls (or GATEHOUSE_ALLOW_INSECURE=plain-ldap)',
    );
    expect(refusal([{ ...ldap, startTls: true }], production)).toBe('');
    expect(refusal([{ ...ldap, url: 'ldaps://ldap.corp.example' }], production)).toBe('');
    expect(
      refusal([ldap], {
        ...production,
        GATEHOUSE_ALLOW_INSECURE: `${production.GATEHOUSE_ALLOW_INSECURE},plain-ldap`,
      }),
    ).toBe('');
  });
});
