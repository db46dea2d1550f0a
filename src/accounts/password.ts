import { scrypt as scryptCb, timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { verify as argon2Verify, hash as argon2Hash, type Algorithm } from '@node-rs/argon2';

/** `Algorithm.Argon2id`; the package exports it as an ambient const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * Verifies a password against a stored value: a PHC string (`$argon2id$…`, `$scrypt$…`) or,
 * where configuration allowed it, plain text. Always does comparable work, so the caller can
 * use it for unknown users too.
 */
export async function verifyPassword(stored: string, candidate: string): Promise<boolean> {
  // A malformed hash in configuration verifies nothing; it must not become a 500, nor (with
  // absurd cost parameters) keep a login busy indefinitely.
  try {
    if (stored.startsWith('$argon2')) {
      return argon2CostsSane(stored) && (await argon2Verify(stored, candidate));
    }
    if (stored.startsWith('$scrypt$')) return await verifyScrypt(stored, candidate);
  } catch {
    return false;
  }
  return constantTimeEqual(stored, candidate);
}

/** Upper bounds for argon2 cost parameters: RFC 9106's recommendations fit well within them. */
const ARGON2_MAX = { m: 2 * 1024 * 1024, t: 16, p: 16 } as const;

function argon2CostsSane(stored: string): boolean {
  const params = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!params) return false;
  const [m, t, p] = params.slice(1).map(Number) as [number, number, number];
  return m <= ARGON2_MAX.m && t <= ARGON2_MAX.t && p <= ARGON2_MAX.p;
}

/** Hashes a password as argon2id with OWASP's recommended parameters (m=19 MiB, t=2, p=1). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, {
    algorithm: ARGON2ID,
    memoryCost: 19456,
    timeCost: 2,
    parallelism: 1,
  });
}

/** A hash to verify against when the username is unknown, so timing does not reveal it. */
export const DUMMY_HASH =
  '$scrypt$ln=14,r=8,p=1$' +
  randomBytes(16).toString('base64').replace(/=+$/, '') +
  '$' +
  randomBytes(32).toString('base64').replace(/=+$/, '');

/** `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>` (PHC string format). */
async function verifyScrypt(stored: string, candidate: string): Promise<boolean> {
  const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/.]+={0,2})\$([A-Za-z0-9+/.]+={0,2})$/.exec(
    stored,
  );
  if (!match) return false;
  const [, ln, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const costs = { ln: Number(ln), r: Number(r), p: Number(p) };
  // Out-of-range parameters make node:crypto throw or work without end: they verify nothing.
  if (costs.ln < 1 || costs.ln > 20 || costs.r < 1 || costs.r > 32 || costs.p < 1 || costs.p > 16)
    return false;
  if (expected.length < 16 || expected.length > 64) return false;
  const N = 2 ** costs.ln;
  const derived = await scrypt(candidate, Buffer.from(salt, 'base64'), expected.length, {
    N,
    r: costs.r,
    p: costs.p,
    maxmem: 256 * N * costs.r + 1024 * 1024,
  });
  return timingSafeEqual(derived, expected);
}

function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
