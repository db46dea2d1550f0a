import { DEVICE_APPROVAL_REASON, deviceApprovalCheck, maskUserCode } from '../../src/oidc/device-approval.js';

describe('maskUserCode', () => {
  it.each([
    ['BCDFGHJK', '****-****', 'BCDF-GHJK'],
    ['123456789', '***-***-***', '123-456-789'],
    ['12345678', '**** ****', '1234 5678'],
  ])('lays %s out as %s', (normalized, mask, shown) => {
    expect(maskUserCode(normalized, mask)).toBe(shown);
  });
});

describe('deviceApprovalCheck', () => {
  const check = deviceApprovalCheck() as unknown as {
    reason: string;
    check: (ctx: unknown) => boolean;
  };
  const ctx = (route: string, result?: Record<string, unknown>) => ({ oidc: { route, result } });

  it('asks on both device-flow routes until the interaction result carries consent', () => {
    expect(check.reason).toBe(DEVICE_APPROVAL_REASON);
    expect(check.check(ctx('code_verification'))).toBe(true);
    expect(check.check(ctx('device_resume', { login: { accountId: 'a' } }))).toBe(true);
    expect(check.check(ctx('device_resume', { login: { accountId: 'a' }, consent: {} }))).toBe(false);
  });

  it('leaves other authorization requests to the other consent checks', () => {
    expect(check.check(ctx('authorization'))).toBe(false);
    expect(check.check(ctx('resume', { login: { accountId: 'a' } }))).toBe(false);
  });
});
