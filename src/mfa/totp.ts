import { Secret, TOTP } from 'otpauth';

/** Seconds per TOTP time step (RFC 6238 §4.1 X, the recommended 30 s). */
export const TOTP_PERIOD_SECONDS = 30;

/** How many steps either side of now a code may come from (RFC 6238 §5.2: one step of drift). */
export const TOTP_WINDOW = 1;

/**
 * The time step of a TOTP code when it is right for `secret` within ±TOTP_WINDOW steps of `now`,
 * else undefined. SHA-1, 6 digits, 30 s (the parameters every authenticator app understands).
 * The step lets the caller refuse a code already used in its window (RFC 6238 §5.2).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238#section-4
 */
export function matchTotp(secretBase32: string, code: string, now = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = new TOTP({
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
  });
  const delta = totp.validate({ token: code, timestamp: now, window: TOTP_WINDOW });
  return delta === null ? undefined : Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

/** A new random TOTP secret of 160 bits (RFC 4226 §4 R6's recommendation), base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/**
 * The `otpauth://totp/…` URI authenticator apps read (from a QR code or pasted), for `account`
 * at `issuer` (shown as the entry's name in the app).
 *
 * @see https://github.com/google/google-authenticator/wiki/Key-Uri-Format
 */
export function totpUri(secretBase32: string, issuer: string, account: string): string {
  return new TOTP({
    issuer,
    label: account,
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}
