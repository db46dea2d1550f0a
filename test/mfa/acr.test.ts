import {
  ACR_MULTI_FACTOR as MFA,
  ACR_PASSWORD as PWD,
  ACR_PHISHING_RESISTANT as PHR,
  KNOWN_ACR_VALUES,
  acrForSession,
  demandedAcr,
  levelOfAmr,
  meets,
  planStepUp,
} from '../../src/mfa/acr.js';

const ALL = [...KNOWN_ACR_VALUES];
const NONE = { totp: false, passkey: false };

describe('acr levels', () => {
  it('orders password < multi-factor < phishing-resistant by amr', () => {
    expect(levelOfAmr(['pwd'])).toBe(1);
    expect(levelOfAmr(['pwd', 'otp', 'mfa'])).toBe(2);
    expect(levelOfAmr(['hwk', 'user', 'mfa'])).toBe(3);
    expect(levelOfAmr(['swk', 'user', 'mfa'])).toBe(3);
    expect(meets(['pwd', 'otp', 'mfa'], PWD)).toBe(true);
    expect(meets(['pwd', 'otp', 'mfa'], PHR)).toBe(false);
    expect(meets(['pwd', 'otp', 'mfa'], 'urn:evil:gold')).toBe(false);
  });

  it('picks the first requested value met, else the highest level met', () => {
    expect(acrForSession(['pwd', 'otp', 'mfa'], [PHR, PWD, MFA], ALL)).toBe(PWD);
    expect(acrForSession(['pwd', 'otp', 'mfa'], [], ALL)).toBe(MFA);
    expect(acrForSession(['pwd'], [MFA], ALL)).toBe(PWD);
    expect(acrForSession(['pwd'], ['urn:evil:gold'], ALL)).toBe(PWD);
    // An operator's opaque value is echoed when asked for; unsupported known ones are not told.
    expect(acrForSession(['pwd'], ['urn:op:x'], [...ALL, 'urn:op:x'])).toBe('urn:op:x');
    expect(acrForSession(['pwd'], [], ['urn:op:x'])).toBeUndefined();
  });

  it('reads the demand: essential claim wins over acr_values; unsupported values dropped', () => {
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [MFA, 'urn:evil'] } } });
    expect(demandedAcr({ claims, acr_values: PWD }, ALL)).toEqual({ values: [MFA], essential: true });
    expect(demandedAcr({ acr_values: `urn:evil ${PHR}` }, ALL)).toEqual({ values: [PHR], essential: false });
    expect(demandedAcr({ acr_values: 'urn:evil' }, ALL)).toBeUndefined();
    const single = JSON.stringify({ id_token: { acr: { essential: true, value: PHR } } });
    expect(demandedAcr({ claims: single }, ALL)).toEqual({ values: [PHR], essential: true });
    expect(demandedAcr({ claims: '{not json' }, ALL)).toBeUndefined();
  });

  it('plans the least step-up that meets the demand, or none, or a refusal', () => {
    const voluntary = (values: string[]) => ({ values, essential: false });
    const essential = (values: string[]) => ({ values, essential: true });
    expect(planStepUp(['pwd'], voluntary([MFA]), { totp: true, passkey: true })).toBe('otp');
    expect(planStepUp(['pwd'], voluntary([PHR]), { totp: true, passkey: true })).toBe('passkey');
    expect(planStepUp(['pwd'], voluntary([MFA]), NONE)).toBe('none');
    expect(planStepUp(['pwd'], essential([MFA]), NONE)).toBe('enrol-otp');
    expect(planStepUp(['pwd'], essential([PHR]), { totp: true, passkey: false })).toBe('deny');
    expect(planStepUp(['pwd'], essential([]), NONE)).toBe('deny');
    expect(planStepUp(['pwd', 'otp', 'mfa'], essential([MFA]), NONE)).toBe('none');
    expect(planStepUp(['pwd'], undefined, NONE)).toBe('none');
  });
});
