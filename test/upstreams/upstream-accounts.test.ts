import { createMemoryStore } from '../../src/storage/memory-store.js';
import { createAccountStore } from '../../src/accounts/account-store.js';
import { createStoredAccountStore } from '../../src/accounts/stored-accounts.js';
import { oidcUpstreamSchema } from '../../src/config/upstreams-schema.js';
import {
  createUpstreamAccounts,
  mapUpstreamClaims,
  UpstreamRefusal,
} from '../../src/upstreams/upstream-accounts.js';
import { pickUpstreamForHints } from '../../src/upstreams/upstream-hints.js';
import { rfc8176Amr } from '../../src/upstreams/rfc8176-amr.js';
import { githubApiUrl } from '../../src/upstreams/github-upstream.js';

const upstream = (extra: Record<string, unknown> = {}) =>
  oidcUpstreamSchema.parse({
    id: 'corp',
    type: 'oidc',
    name: 'Corp',
    issuer: 'https://login.corp.example',
    clientId: 'c',
    clientSecret: 's',
    ...extra,
  });

const carol = {
  iss: 'https://login.corp.example',
  sub: '42',
  email: 'Carol@Corp.Example',
  email_verified: true,
};

describe('upstream accounts', () => {
  const store = createMemoryStore();
  const local = createStoredAccountStore(
    createAccountStore([
      {
        username: 'carol',
        password: 'x'.repeat(12),
        claims: { sub: 'carol-local', email: 'carol@corp.example' },
      },
    ]),
    store,
  );
  const accounts = createUpstreamAccounts({ store, accounts: local });
  afterAll(() => store.close());

  it('maps only the configured claims and never the upstream sub; groups from groupsClaim', () => {
    const mapped = mapUpstreamClaims(
      upstream({ claims: { email: 'email', org: 'organisation' }, groupsClaim: 'roles' }),
      {
        ...carol,
        org: 'Corp',
        roles: ['a', 7, 'b'],
        secret: 'not copied',
      },
    );
    expect(mapped).toEqual({ email: 'Carol@Corp.Example', organisation: 'Corp', groups: ['a', 'b'] });
  });

  it('creates an account with an opaque sub once, then finds it again', async () => {
    const first = await accounts.resolve(upstream(), carol);
    expect(first).toMatchObject({ created: true, linked: false });
    expect(first.sub).toMatch(/^u_[\w-]{24}$/);
    const again = await accounts.resolve(upstream(), { ...carol, name: 'Carol' });
    expect(again).toEqual({ sub: first.sub, created: false, linked: false });
    expect((await local.findBySub(first.sub))?.claims).toMatchObject({ sub: first.sub, name: 'Carol' });
  });

  it('links by email only with linkByEmail and a verified email', async () => {
    const linking = upstream({ id: 'linking', linkByEmail: true });
    expect((await accounts.resolve(linking, { ...carol, sub: 'x1', email_verified: false })).sub).not.toBe(
      'carol-local',
    );
    expect(await accounts.resolve(linking, { ...carol, sub: 'x2' })).toEqual({
      sub: 'carol-local',
      created: false,
      linked: true,
    });
  });

  it('refuses emails outside allowedEmailDomains, and unverified ones', async () => {
    const strict = upstream({ id: 'strict', allowedEmailDomains: ['corp.example'] });
    await expect(accounts.resolve(strict, { ...carol, email: 'c@other.example' })).rejects.toBeInstanceOf(
      UpstreamRefusal,
    );
    await expect(accounts.resolve(strict, { ...carol, email_verified: false })).rejects.toBeInstanceOf(
      UpstreamRefusal,
    );
    await expect(accounts.resolve(strict, carol)).resolves.toMatchObject({ created: true });
  });

  it('cannot be signed in to with a password (it has none)', async () => {
    const { sub } = await accounts.resolve(upstream({ id: 'nopass' }), carol);
    const account = await local.findBySub(sub);
    expect(await local.authenticate(account!.username, '')).toBeUndefined();
    expect(await local.authenticate(account!.username, 'anything')).toBeUndefined();
  });
});

describe('pickUpstreamForHints', () => {
  const list = [upstream({ domains: ['corp.example'] })];
  it('follows upstream_hint, then the domain of an email login_hint', () => {
    expect(pickUpstreamForHints(list, { upstream_hint: 'corp' })).toBe('corp');
    expect(pickUpstreamForHints(list, { login_hint: 'a@Corp.Example' })).toBe('corp');
    expect(pickUpstreamForHints(list, { login_hint: 'a@evil.example' })).toBeUndefined();
    expect(pickUpstreamForHints(list, { login_hint: 'corp.example' })).toBeUndefined();
    expect(pickUpstreamForHints(list, { upstream_hint: 'other' })).toBeUndefined();
  });
});

describe('rfc8176Amr', () => {
  it('keeps registered values only', () => {
    expect(rfc8176Amr(['pwd', 'mfa', 'custom', 'pwd', 3])).toEqual(['pwd', 'mfa']);
    expect(rfc8176Amr('pwd')).toEqual([]);
  });
});

describe('githubApiUrl', () => {
  it('is api.github.com for github.com and /api/v3 for GitHub Enterprise Server', () => {
    expect(githubApiUrl('https://github.com')).toBe('https://api.github.com');
    expect(githubApiUrl('https://ghe.corp.example/')).toBe('https://ghe.corp.example/api/v3');
  });
});
