import { createHmac } from 'node:crypto';

/** A TOTP secret for tests (base32 of "12345678901234567890", RFC 6238 Appendix B's SHA-1 key). */
export const TEST_TOTP_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((b) => parseInt(b, 2)));
}

/**
 * The RFC 6238 code of `secret` at `at` (ms) plus `steps` time steps, computed here independently
 * of the library Gatehouse uses: HOTP (RFC 4226 §5.3) over the 30 s counter, SHA-1, 6 digits.
 */
export function totpCode(secret: string, at = Date.now(), steps = 0): string {
  const counter = Math.floor(at / 1000 / 30) + steps;
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secret)).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}
