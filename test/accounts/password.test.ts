import { hashPassword, verifyPassword } from '../../src/accounts/password.js';
import { defaultDummyHash } from '../../src/accounts/dummy-hash.js';
import { isPasswordHash } from '../../src/config/production-safety.js';
import { BOB_SCRYPT, TEST_USERS } from '../support/gatehouse.js';

describe('password verification', () => {
  describe('argon2id (hashPassword)', () => {
    let hash: string;
    beforeAll(async () => {
      hash = await hashPassword('correct horse battery staple');
    });

    it("hashes as argon2id with OWASP's parameters, salted", async () => {
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      expect(await hashPassword('correct horse battery staple')).not.toBe(hash);
      expect(isPasswordHash(hash)).toBe(true);
    });

    it('verifies the password and nothing else', async () => {
      expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
      for (const wrong of ['', 'correct horse battery stapl', 'Correct horse battery staple', `${hash}`]) {
        expect(await verifyPassword(hash, wrong)).toBe(false);
      }
    });

    it('handles passwords beyond ASCII', async () => {
      const unicode = await hashPassword('pässwörd-🔑-パスワード');
      expect(await verifyPassword(unicode, 'pässwörd-🔑-パスワード')).toBe(true);
      expect(await verifyPassword(unicode, 'passwort-🔑-パスワード')).toBe(false);
    });
  });

  describe('scrypt PHC strings', () => {
    it('BOB_SCRYPT verifies "hunter2-hunter2"', async () => {
      expect(TEST_USERS.bob.password).toBe('hunter2-hunter2');
      expect(await verifyPassword(BOB_SCRYPT, 'hunter2-hunter2')).toBe(true);
      expect(isPasswordHash(BOB_SCRYPT)).toBe(true);
    });

    it('refuses wrong passwords', async () => {
      for (const wrong of ['', 'hunter2', 'hunter2-hunter3', 'HUNTER2-HUNTER2', 'hunter2-hunter2 ']) {
        expect(await verifyPassword(BOB_SCRYPT, wrong)).toBe(false);
      }
    });
  });

  describe('malformed hashes fail without throwing', () => {
    const salt = 'c2FsdHNhbHRzYWx0c2FsdA';
    const bobHash = BOB_SCRYPT.split('$').pop()!;
    const scrypt = (params: string, hash = bobHash) => `$scrypt$${params}$${salt}$${hash}`;
    const argon2 =
      '$argon2id$v=19$m=19456,t=2,p=1$wfPULSamNwILQlVeciwT4g$fjefoATCMKIqrn4AhIRh7P5ePK6hgmzC1waO1VKPzyU';

    it.each([
      ['argon2id garbage', '$argon2id$garbage'],
      ['argon2id, short salt and hash', '$argon2id$v=19$m=19456,t=2,p=1$short$short'],
      ['argon2id, no parameters', '$argon2id$'],
      ['just $argon2', '$argon2'],
      ['an unknown argon2 variant', argon2.replace('argon2id', 'argon2x')],
      ['argon2id, truncated hash', argon2.replace(/\$[^$]+$/, '$AAAA')],
      ['argon2id, absurd memory', argon2.replace('m=19456', 'm=99999999999')],
      ['argon2id, absurd time cost', argon2.replace('t=2', 't=4294967295')],
      ['argon2id, absurd parallelism', argon2.replace('p=1', 'p=255')],
      ['scrypt, nothing after the id', '$scrypt$'],
      ['scrypt, no hash', `$scrypt$ln=14,r=8,p=1$${salt}`],
      ['scrypt, empty salt', `$scrypt$ln=14,r=8,p=1$$${bobHash}`],
      ['scrypt, characters outside base64', `$scrypt$ln=14,r=8,p=1$!!!$${bobHash}`],
      ['scrypt, ln=0', scrypt('ln=0,r=8,p=1')],
      ['scrypt, ln beyond 20', scrypt('ln=21,r=8,p=1')],
      ['scrypt, r=0', scrypt('ln=14,r=0,p=1')],
      ['scrypt, p=0', scrypt('ln=14,r=8,p=0')],
      ['scrypt, absurd r', scrypt('ln=14,r=99999,p=1')],
      ['scrypt, absurd p', scrypt('ln=14,r=8,p=99999999')],
      ['scrypt, a hash shorter than 16 bytes', scrypt('ln=14,r=8,p=1', 'c2hvcnQ')],
      ['scrypt, a hash of 75 000 bytes', scrypt('ln=14,r=8,p=1', 'A'.repeat(100000))],
      ['scrypt, parameters out of order', scrypt('r=8,ln=14,p=1')],
    ])('%s', async (_name, stored) => {
      const started = Date.now();
      await expect(verifyPassword(stored, 'hunter2-hunter2')).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('the dummy hash for unknown users verifies nothing', async () => {
      const dummy = await defaultDummyHash();
      expect(dummy).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      for (const candidate of ['', 'demo', 'hunter2-hunter2']) {
        expect(await verifyPassword(dummy, candidate)).toBe(false);
      }
    });
  });

  describe('plain text (allowed outside production)', () => {
    it('matches exactly', async () => {
      expect(await verifyPassword('demo', 'demo')).toBe(true);
      for (const wrong of ['', 'Demo', 'demo ', ' demo', 'dem', 'demodemo']) {
        expect(await verifyPassword('demo', wrong)).toBe(false);
      }
    });

    it('is what isPasswordHash calls anything that is not a PHC string', () => {
      for (const plain of [
        'demo',
        '$2b$10$bcrypt-is-not-supported',
        'scrypt$ln=14',
        '$argon2',
        '$pbkdf2$x',
      ]) {
        expect(isPasswordHash(plain)).toBe(false);
      }
      for (const hash of ['$argon2id$v=19$x', '$argon2i$v=19$x', '$argon2d$v=19$x', '$scrypt$ln=14']) {
        expect(isPasswordHash(hash)).toBe(true);
      }
    });

    it('a string that looks like a hash of another scheme is compared as plain text', async () => {
      const bcrypt = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
      expect(await verifyPassword(bcrypt, 'password')).toBe(false);
      expect(await verifyPassword(bcrypt, bcrypt)).toBe(true);
    });
  });
});
