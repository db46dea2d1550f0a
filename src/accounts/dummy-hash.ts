import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, parseOptions } from '@node-rs/argon2';
import { ARGON2ID_OPTIONS, argon2CostsSane, hashScrypt, scryptCostsSane } from './password.js';

/**
 * How a password hash was made, salt aside: what decides how long verifying against it takes.
 * `key` identifies the profile; `hash` makes a new hash the same way.
 */
export interface HashProfile {
  key: string;
  hash(password: string): Promise<string>;
}

/**
 * The profile of a stored password: an `$argon2…$` or `$scrypt$` PHC string within the cost
 * bounds verifyPassword accepts. Undefined for plain text and for hashes verifyPassword refuses
 * without computing anything (malformed, absurd costs): their timing is nobody's to copy.
 */
export function hashProfileOf(stored: string): HashProfile | undefined {
  if (stored.startsWith('$argon2')) {
    if (!argon2CostsSane(stored)) return undefined;
    let options: ReturnType<typeof parseOptions>;
    try {
      options = parseOptions(stored);
    } catch {
      return undefined; // not a hash argon2 can read: verifyPassword refuses it at once
    }
    const { algorithm, version, memoryCost, timeCost, parallelism, outputLen } = options;
    return {
      key: `argon2:${algorithm}:${version}:m=${memoryCost},t=${timeCost},p=${parallelism}:${outputLen}`,
      hash: (password) =>
        argon2Hash(password, { algorithm, version, memoryCost, timeCost, parallelism, outputLen }),
    };
  }
  const scrypt = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$/.exec(stored);
  if (scrypt) {
    const costs = { ln: Number(scrypt[1]), r: Number(scrypt[2]), p: Number(scrypt[3]) };
    if (!scryptCostsSane(costs)) return undefined;
    return {
      key: `scrypt:ln=${costs.ln},r=${costs.r},p=${costs.p}`,
      hash: (password) => hashScrypt(password, costs),
    };
  }
  return undefined;
}

/**
 * argon2id with hashPassword's parameters: what `npm run hash-password` and the admin
 * command's `users add` produce, so what users stored in the store always have.
 */
export const DEFAULT_HASH_PROFILE: HashProfile = {
  key: `argon2:${ARGON2ID_OPTIONS.algorithm}:1:m=${ARGON2ID_OPTIONS.memoryCost},t=${ARGON2ID_OPTIONS.timeCost},p=${ARGON2ID_OPTIONS.parallelism}:32`,
  hash: (password) => argon2Hash(password, ARGON2ID_OPTIONS),
};

/**
 * The profile most of these stored passwords share; DEFAULT_HASH_PROFILE when none is a
 * usable hash, and on a tie with it.
 */
export function commonHashProfile(storedPasswords: readonly string[]): HashProfile {
  const counts = new Map<string, { profile: HashProfile; count: number }>();
  for (const stored of storedPasswords) {
    const profile = hashProfileOf(stored);
    if (!profile) continue;
    const entry = counts.get(profile.key) ?? { profile, count: 0 };
    entry.count += 1;
    counts.set(profile.key, entry);
  }
  let best = { profile: DEFAULT_HASH_PROFILE, count: counts.get(DEFAULT_HASH_PROFILE.key)?.count ?? 0 };
  for (const entry of counts.values()) if (entry.count > best.count) best = entry;
  return best.profile;
}

/**
 * The hash unknown usernames are verified against, so that answering for them takes as long as
 * for a real user with a wrong password: a random password hashed the way most of the given
 * users' passwords are (see commonHashProfile). Made once, at start-up.
 */
export function createDummyHash(storedPasswords: readonly string[]): Promise<string> {
  return commonHashProfile(storedPasswords).hash(randomBytes(32).toString('base64url'));
}

let defaultDummy: Promise<string> | undefined;

/** A dummy hash with DEFAULT_HASH_PROFILE, made on first use and kept. */
export function defaultDummyHash(): Promise<string> {
  defaultDummy ??= createDummyHash([]);
  return defaultDummy;
}
