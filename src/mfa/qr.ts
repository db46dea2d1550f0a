import QRCode from 'qrcode';
import { totpUri } from './totp.js';

/**
 * What a setup page shows for a new TOTP secret: an SVG QR code of its otpauth:// URI (markup to
 * inline: no script, nothing fetched) and the key in groups of four for typing.
 */
export async function totpSetupView(secret: string, issuer: string, account: string) {
  const uri = totpUri(secret, new URL(issuer).host, account);
  return {
    qrSvg: await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }),
    secretGroups: secret.match(/.{1,4}/g)!.join(' '),
  };
}
