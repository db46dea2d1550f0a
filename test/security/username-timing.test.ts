import { hash as argon2Hash, parseOptions, type Algorithm } from '@node-rs/argon2';
import { createAccountStore } from '../../src/accounts/account-store.js';
import {
  commonHashProfile,
  createDummyHash,
  DEFAULT_HASH_PROFILE,
  hashProfileOf,
} from '../../src/accounts/dummy-hash.js';
import { hashPassword, hashScrypt, verifyPassword } from '../../src/accounts/password.js';
import type { UserConfig } from '../../src/config/schema.js';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { BOB_SCRYPT, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';

/**
 * Trust boundary: the sign-in form must not tell whether a username exists, neither by its
 * answer nor by how long the answer takes. Timing itself is not asserted here (it belongs in
 * benchmarks): instead, that an unknown username costs the same work as a known one, i.e. is
 * verified by the same algorithm with the same parameters as the users' own hashes.
 */

/** argon2id with parameters other than hashPassword's, as an operator's own tooling might make. */
const CUSTOM = { algorithm: 2 as Algorithm, memoryCost: 8192, timeCost: 3, parallelism: 1 };
const customHash = (password: string) => argon2Hash(password, CUSTOM);

async function users(): Promise<UserConfig[]> {
  return [
    { username: 'carol', password: await customHash('carol-password-1'), claims: { sub: 'carol-0003' } },
    { username: 'dave', password: await customHash('dave-password-1'), claims: { sub: 'dave-0004' } },
    { username: 'bob', password: BOB_SCRYPT, claims: { sub: 'bob-0002' } },
    { username: 'erin', password: 'plain-text-password', claims: { sub: 'erin-0005' } },
  ];
}

describe('sign-in timing does not reveal whether a username exists', () => {
  it("verifies an unknown username with the argon2 verifier, against a hash with the users' own argon2id parameters", async () => {
    const calls: string[] = [];
    const accounts = createAccountStore(await users(), {
      verify: (stored, candidate) => {
        calls.push(stored);
        return verifyPassword(stored, candidate);
      },
    });
    expect(await accounts.authenticate('no-such-user', 'guess')).toBeUndefined();
    expect(await accounts.authenticate('carol', 'guess')).toBeUndefined();
    expect(calls).toHaveLength(2);
    const [unknown, known] = calls as [string, string];
    // The same verifier (verifyPassword dispatches `$argon2…` to argon2's), the same work.
    expect(unknown).toMatch(/^\$argon2id\$v=19\$m=8192,t=3,p=1\$/);
    const { saltLen: _unknownSalt, ...unknownOptions } = parseOptions(unknown);
    const { saltLen: _knownSalt, ...knownOptions } = parseOptions(known);
    expect(unknownOptions).toEqual(knownOptions);
    // Made at start-up, once, with a random password: the same for every unknown username, and
    // nothing verifies against it.
    await accounts.authenticate('someone-else', '');
    expect(calls[2]).toBe(unknown);
    expect(await verifyPassword(unknown, '')).toBe(false);
  });

  it('uses the parameters most users have; argon2id with hashPassword’s when no user has a hash', async () => {
    const argon2 = await hashPassword('x');
    expect(hashProfileOf(argon2)?.key).toBe(DEFAULT_HASH_PROFILE.key);
    expect(commonHashProfile([]).key).toBe(DEFAULT_HASH_PROFILE.key);
    expect(commonHashProfile(['plain', 'text']).key).toBe(DEFAULT_HASH_PROFILE.key);
    expect(await createDummyHash(['plain'])).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // A tie keeps the default profile.
    expect(commonHashProfile([BOB_SCRYPT, argon2]).key).toBe(DEFAULT_HASH_PROFILE.key);
    // Mostly scrypt users: the dummy is scrypt with their costs (scrypt of these costs takes
    // its own time, unlike argon2id of any parameters).
    const scrypt = await hashScrypt('y', { ln: 14, r: 8, p: 1 });
    const dummy = await createDummyHash([BOB_SCRYPT, scrypt, argon2]);
    expect(dummy).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
    expect(await verifyPassword(dummy, 'y')).toBe(false);
    // A hash verifyPassword refuses without computing (absurd costs) is nobody's profile.
    expect(hashProfileOf(argon2.replace('m=19456', 'm=99999999999'))).toBeUndefined();
    expect(hashProfileOf('$scrypt$ln=30,r=8,p=1$c2FsdA$c2FsdA')).toBeUndefined();
  });

  describe('against a running Gatehouse', () => {
    let gh: RunningGatehouse;
    beforeAll(async () => {
      gh = await startTestGatehouse({ overrides: { users: await users() } });
    });
    afterAll(() => gh?.stop());

    async function signIn(username: string, password: string) {
      const ua = new UserAgent(gh.issuer);
      const url = `${gh.issuer}/authorize?client_id=web-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(TEST_CLIENTS.web.redirect_uris[0])}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
      const { res, url: at } = await ua.follow(url);
      const form = readForm(await res.text());
      const answer = await ua.request(new URL(form.action, at).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, username, password }).toString(),
      });
      // The page differs only by what the visitor typed and the per-page CSRF token.
      const text = (await answer.text())
        .replaceAll(username, 'USERNAME')
        .replace(/name="csrf" value="[^"]*"/g, '')
        .replace(/\/interaction\/[^/"]+\//g, '/interaction/UID/');
      return { status: answer.status, text };
    }

    it('answers an unknown username exactly as a wrong password', async () => {
      const unknown = await signIn('zed', 'guess-1');
      const wrong = await signIn('carol', 'guess-1');
      expect(unknown.status).toBe(401);
      expect(wrong.status).toBe(401);
      expect(unknown.text).toBe(wrong.text);
      expect(unknown.text).toContain('Incorrect username or password.');
    });
  });
});
