/**
 * The Authentication Method Reference values registered by RFC 8176; an upstream's other `amr`
 * values are dropped, so ID tokens carry registered values only.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
const RFC8176 = new Set([
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
]);

/** The registered values among an upstream's `amr` claim (in its order, without repeats). */
export function rfc8176Amr(amr: unknown): string[] {
  if (!Array.isArray(amr)) return [];
  return [...new Set(amr.filter((v): v is string => typeof v === 'string' && RFC8176.has(v)))];
}
