import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Paths pino censors in every log line, at the top level and one level down. Gatehouse never
 * logs request bodies; this is the safety net for anything that slips through.
 */
const SECRET_KEYS = [
  'password',
  'client_secret',
  'clientSecret',
  'code',
  'code_verifier',
  'codeVerifier',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'device_code',
  'deviceCode',
  'assertion',
  'subject_token',
  'subjectToken',
  'token',
  'cookie',
  'authorization',
  'secretAccessKey',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** The structured JSON logger: pino, with secrets redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gatehouse', pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
