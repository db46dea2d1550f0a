import { createHash, randomInt } from 'node:crypto';
import type { Store } from '../storage/store.js';
import { matchTotp, TOTP_PERIOD_SECONDS, TOTP_WINDOW } from './totp.js';

/** A user's second factors as kept in the store, under `mfa:<sub>`. */
export interface FactorRecord {
  totp?: { secret: string; enrolledAt: number };
  /** SHA-256 of `<sub>:<code>` for each unspent recovery code; the codes themselves are never kept. */
  recoveryCodes?: string[];
}

export type SecondFactorMethod = 'totp' | 'recovery-code';

/** How many recovery codes a user gets at a time. */
export const RECOVERY_CODE_COUNT = 10;

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i: easy to copy by hand
const recordKey = (sub: string) => `mfa:${sub}`;
// A step's code stays valid for TOTP_WINDOW steps after it; keep the mark a little longer.
const USED_STEP_TTL = (2 * TOTP_WINDOW + 2) * TOTP_PERIOD_SECONDS;
// Spent-code marks only need to outlive the read-modify-write of the record that removes the code.
const SPENT_CODE_TTL = 86_400;

/** Lower-cases a typed recovery code and drops the spaces and dashes people copy with it. */
export function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

const hashRecoveryCode = (sub: string, code: string) =>
  createHash('sha256')
    .update(`${sub}:${normaliseRecoveryCode(code)}`)
    .digest('base64url');

function newRecoveryCode(): string {
  const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

/**
 * Second factors: TOTP secrets and recovery codes, in the store (so every instance sees them),
 * with `users[].totp` from the configuration as a pre-enrolment a stored secret replaces.
 *
 * Records: `mfa:<sub>` → FactorRecord; `mfa-used:<sub>:<step>` marks a TOTP time step already
 * used; `mfa-spent:<sub>:<hash>` marks a recovery code being spent (both set only-if-absent, so
 * two requests racing with one code cannot both win).
 */
export function createFactors(store: Store, configuredTotp: ReadonlyMap<string, string>) {
  const read = (sub: string) => store.getRecord<FactorRecord>(recordKey(sub));
  const totpSecret = async (sub: string) => (await read(sub))?.totp?.secret ?? configuredTotp.get(sub);

  return {
    /** Whether the user must give a second factor after the password. */
    async isEnrolled(sub: string): Promise<boolean> {
      return (await totpSecret(sub)) !== undefined;
    },
    /**
     * Checks a TOTP code, or a recovery code (spending it). A TOTP code whose time step was
     * already used by this user is refused (RFC 6238 §5.2). Returns the method that matched.
     *
     * @see https://www.rfc-editor.org/rfc/rfc6238#section-5.2
     */
    async verify(sub: string, input: string, now = Date.now()): Promise<SecondFactorMethod | undefined> {
      const code = input.replace(/\s/g, '');
      if (/^\d{6}$/.test(code)) {
        const secret = await totpSecret(sub);
        const step = secret ? matchTotp(secret, code, now) : undefined;
        if (step === undefined) return undefined;
        const first = await store.setRecordIfAbsent(`mfa-used:${sub}:${step}`, 1, USED_STEP_TTL);
        return first ? 'totp' : undefined;
      }
      const normalised = normaliseRecoveryCode(code);
      if (!/^[a-z0-9]{10}$/.test(normalised)) return undefined;
      const hash = hashRecoveryCode(sub, normalised);
      const record = await read(sub);
      if (!record?.recoveryCodes?.includes(hash)) return undefined;
      if (!(await store.setRecordIfAbsent(`mfa-spent:${sub}:${hash}`, 1, SPENT_CODE_TTL))) return undefined;
      const latest = (await read(sub)) ?? {};
      const recoveryCodes = (latest.recoveryCodes ?? []).filter((h) => h !== hash);
      await store.setRecord(recordKey(sub), { ...latest, recoveryCodes });
      return 'recovery-code';
    },
    /** What the user has, for the account page: where the TOTP secret comes from, and codes left. */
    async describe(sub: string) {
      const record = await read(sub);
      const totp = record?.totp ? 'stored' : configuredTotp.has(sub) ? 'configured' : undefined;
      return {
        totp: totp as 'stored' | 'configured' | undefined,
        enrolledAt: record?.totp?.enrolledAt,
        recoveryCodesLeft: record?.recoveryCodes?.length ?? 0,
      };
    },
    /**
     * Checks a code against a secret being set up (not yet the user's), refusing a time step
     * already used by this user, like `verify`.
     */
    async checkNewSecret(sub: string, secret: string, code: string, now = Date.now()): Promise<boolean> {
      const step = matchTotp(secret, code.replace(/\s/g, ''), now);
      if (step === undefined) return false;
      return store.setRecordIfAbsent(`mfa-used:${sub}:${step}`, 1, USED_STEP_TTL);
    },
    /** Enrols (or replaces) the user's authenticator app secret (base32). */
    async setTotp(sub: string, secret: string, now = Date.now()): Promise<void> {
      const record = (await read(sub)) ?? {};
      await store.setRecord(recordKey(sub), { ...record, totp: { secret, enrolledAt: now } });
    },
    /** Replaces the user's recovery codes with RECOVERY_CODE_COUNT new ones; returns them (show once). */
    async newRecoveryCodes(sub: string): Promise<string[]> {
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      const record = (await read(sub)) ?? {};
      await store.setRecord(recordKey(sub), {
        ...record,
        recoveryCodes: codes.map((code) => hashRecoveryCode(sub, code)),
      });
      return codes;
    },
    /** How many unspent recovery codes the user has. */
    async recoveryCodesLeft(sub: string): Promise<number> {
      return (await read(sub))?.recoveryCodes?.length ?? 0;
    },
    /**
     * Removes the user's stored factors and recovery codes. A `users[].totp` from the
     * configuration stays (it is the operator's file); returns whether one does.
     */
    async reset(sub: string): Promise<{ configuredTotpRemains: boolean }> {
      await store.deleteRecord(recordKey(sub));
      return { configuredTotpRemains: configuredTotp.has(sub) };
    },
  };
}

export type Factors = ReturnType<typeof createFactors>;

/** The `users[].totp` pre-enrolments of the configuration, by `sub`. */
export function configuredTotpSecrets(
  users: readonly { totp?: string | undefined; claims: { sub: string } }[],
) {
  return new Map(users.flatMap((u) => (u.totp ? [[u.claims.sub, u.totp] as const] : [])));
}
