import { matchTotp } from '../../src/mfa/totp.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

describe('matchTotp (RFC 6238, SHA-1, 6 digits, 30 s)', () => {
  // RFC 6238 Appendix B: T = 59 s gives 94287082 (8 digits); the 6-digit code is its last six.
  it('matches the RFC 6238 Appendix B test vector', () => {
    expect(totpCode(TEST_TOTP_SECRET, 59_000)).toBe('287082');
    expect(matchTotp(TEST_TOTP_SECRET, '287082', 59_000)).toBe(1);
    expect(matchTotp(TEST_TOTP_SECRET, '081804', 1_111_111_109_000)).toBe(Math.floor(1_111_111_109 / 30));
  });

  it('accepts one step of drift either way and refuses two', () => {
    const now = 1_700_000_015_000;
    const step = Math.floor(now / 30_000);
    expect(matchTotp(TEST_TOTP_SECRET, totpCode(TEST_TOTP_SECRET, now, -1), now)).toBe(step - 1);
    expect(matchTotp(TEST_TOTP_SECRET, totpCode(TEST_TOTP_SECRET, now, 1), now)).toBe(step + 1);
    expect(matchTotp(TEST_TOTP_SECRET, totpCode(TEST_TOTP_SECRET, now, -2), now)).toBeUndefined();
    expect(matchTotp(TEST_TOTP_SECRET, totpCode(TEST_TOTP_SECRET, now, 2), now)).toBeUndefined();
  });

  it('refuses anything but six digits', () => {
    const now = 1_700_000_015_000;
    const code = totpCode(TEST_TOTP_SECRET, now);
    for (const bad of ['', `${code}0`, code.slice(1), ` ${code}`, 'abcdef', '12345e']) {
      expect(matchTotp(TEST_TOTP_SECRET, bad, now)).toBeUndefined();
    }
  });
});
