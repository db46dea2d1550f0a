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
 * where configuration allowed it, plain text. For unknown users the caller verifies against a
 * dummy hash made like its users' (dummy-hash.ts), so that the time taken reveals nothing.
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

/** Whether an argon2 PHC string's costs are within ARGON2_MAX; others verify nothing. */
export function argon2CostsSane(stored: string): boolean {
  const params = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!params) return false;
  const [m, t, p] = params.slice(1).map(Number) as [number, number, number];
  return m <= ARGON2_MAX.m && t <= ARGON2_MAX.t && p <= ARGON2_MAX.p;
}

/**
 * OWASP's recommended argon2id parameters (m=19 MiB, t=2, p=1): what `hashPassword` (and so
 * `npm run hash-password` and the admin command's `users add`) produces.
 */
export const ARGON2ID_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Hashes a password as argon2id with OWASP's recommended parameters (ARGON2ID_OPTIONS). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, ARGON2ID_OPTIONS);
}

/** scrypt cost parameters as a `$scrypt$` PHC string carries them (`ln` is log2 of N). */
export interface ScryptCosts {
  ln: number;
  r: number;
  p: number;
}

/** Whether node:crypto can run these costs in bounded time; others verify nothing. */
export function scryptCostsSane({ ln, r, p }: ScryptCosts): boolean {
  return ln >= 1 && ln <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

/** Hashes a password as a `$scrypt$` PHC string with the given costs and a random salt. */
export async function hashScrypt(password: string, costs: ScryptCosts): Promise<string> {
  const salt = randomBytes(16);
  const N = 2 ** costs.ln;
  const derived = await scrypt(password, salt, 32, {
    N,
    r: costs.r,
    p: costs.p,
    maxmem: scryptMaxmem(N, costs.r),
  });
  const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${costs.ln},r=${costs.r},p=${costs.p}$${b64(salt)}$${b64(derived)}`;
}

function scryptMaxmem(N: number, r: number): number {
  return 256 * N * r + 1024 * 1024;
}

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
  if (!scryptCostsSane(costs)) return false;
  if (expected.length < 16 || expected.length > 64) return false;
  const N = 2 ** costs.ln;
  const derived = await scrypt(candidate, Buffer.from(salt, 'base64'), expected.length, {
    N,
    r: costs.r,
    p: costs.p,
    maxmem: scryptMaxmem(N, costs.r),
  });
  return timingSafeEqual(derived, expected);
}

function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
