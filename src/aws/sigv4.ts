import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsApiError } from './errors.js';

export interface SignedRequest {
  method: string;
  /** The Host header as the client sent it (before issuer pinning). */
  host: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as received (UTF-8). */
  body: string;
}

export interface SigV4Policy {
  keys: readonly { accessKeyId: string; secretAccessKey: string }[];
  /** The one region accepted in the credential scope (`aws.region`). */
  region: string;
  /**
   * Records a verified signature for `ttlSeconds`; false when it was already recorded (a
   * replay). Backed by `store.setRecordIfAbsent`, so it holds across instances.
   */
  remember: (signature: string, ttlSeconds: number) => Promise<boolean>;
  now?: () => number;
}

/** The service model's `signingName` for sso-oidc (its endpointPrefix is `oidc`). */
export const SIGNING_NAME = 'sso-oauth';
/** How far x-amz-date may be from our clock either way (AWS allows 5 minutes too). */
export const MAX_SKEW_SECONDS = 300;

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const REQUIRED_SIGNED_HEADERS = ['host', 'x-amz-date'];

/**
 * Verifies an AWS Signature Version 4 request signature against the configured access keys:
 * the credential scope must name `aws.region` and the service `sso-oauth`; `host` and
 * `x-amz-date` must be signed; x-amz-date must be within five minutes; the payload hash is
 * computed from the body received (a client's `x-amz-content-sha256` must equal it, and
 * `UNSIGNED-PAYLOAD` or streaming payloads are refused); and a signature is accepted once.
 * The signature itself is recomputed with @smithy/signature-v4 (as the AWS SDKs sign) and
 * compared in constant time. Throws AccessDeniedException on any failure.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
export async function verifySigV4(
  request: SignedRequest,
  policy: SigV4Policy,
): Promise<{ accessKeyId: string; region: string }> {
  const now = policy.now?.() ?? Date.now();
  const header = String(request.headers.authorization ?? '');
  const match = AUTH.exec(header);
  if (!match) throw denied('the request is not signed with AWS Signature Version 4');
  const [, accessKeyId = '', day = '', region = '', service = '', signedHeaderList = '', signature = ''] =
    match;
  if (service !== SIGNING_NAME)
    throw denied(`the signature is for service "${service}", not "${SIGNING_NAME}"`);
  if (region !== policy.region)
    throw denied(`the signature is for region "${region}", not "${policy.region}"`);
  const signedHeaders = signedHeaderList.split(';');
  const unsigned = REQUIRED_SIGNED_HEADERS.filter((name) => !signedHeaders.includes(name));
  if (unsigned.length) throw denied(`SignedHeaders must include ${unsigned.join(' and ')}`);
  const key = policy.keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) throw denied('the access key is not recognized');

  const signingDate = readAmzDate(request.headers['x-amz-date'], day);
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_SECONDS * 1000) {
    throw denied(
      `the signature has expired or is not yet valid (x-amz-date is more than ${MAX_SKEW_SECONDS / 60} minutes off)`,
    );
  }
  checkPayloadHash(request);

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = name === 'host' ? request.host : request.headers[name];
    if (value === undefined) throw denied(`signed header "${name}" is missing`);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const expected = await computeSignature(request, headers, signedHeaders, signingDate, {
    accessKeyId,
    secretAccessKey: key.secretAccessKey,
    region,
  });
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw denied('the request signature does not match');
  }
  // Only verified signatures are remembered, for as long as they could be accepted (±skew).
  if (!(await policy.remember(signature, 2 * MAX_SKEW_SECONDS))) {
    throw denied('this signed request was already received (replay)');
  }
  return { accessKeyId, region };
}

function readAmzDate(value: string | string[] | undefined, day: string): Date {
  const amzDate = typeof value === 'string' ? value : '';
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!date || !amzDate.startsWith(day))
    throw denied('x-amz-date is missing or does not match the credential scope');
  return new Date(Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!));
}

/**
 * The payload is bound by hashing the body received, never by trusting the client's header:
 * a given `x-amz-content-sha256` must equal that hash.
 */
function checkPayloadHash(request: SignedRequest): void {
  const claimed = request.headers['x-amz-content-sha256'];
  if (claimed === undefined) return;
  const value = Array.isArray(claimed) ? claimed.join(',') : claimed;
  if (value === 'UNSIGNED-PAYLOAD' || value.startsWith('STREAMING-'))
    throw denied(`x-amz-content-sha256 "${value.slice(0, 64)}" is not accepted: the body must be signed`);
  const actual = createHash('sha256').update(request.body, 'utf8').digest('hex');
  if (value.toLowerCase() !== actual) throw denied('x-amz-content-sha256 does not match the request body');
}

async function computeSignature(
  request: SignedRequest,
  headers: Record<string, string>,
  signedHeaders: string[],
  signingDate: Date,
  credentials: { accessKeyId: string; secretAccessKey: string; region: string },
): Promise<string> {
  const sessionToken = headers['x-amz-security-token'];
  const signer = new SignatureV4({
    service: SIGNING_NAME,
    region: credentials.region,
    sha256: Sha256,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    uriEscapePath: true,
    // The signer takes a signed x-amz-content-sha256 as the payload hash; checkPayloadHash has
    // made sure it is the body's. Otherwise the signer hashes the body itself.
    applyChecksum: !!headers['x-amz-content-sha256'],
  });
  // host[:port], where host may be a bracketed IPv6 literal.
  const [, hostname = '', port] = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(request.host) ?? [];
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname,
      ...(port ? { port: Number(port) } : {}),
      path: request.path,
      query: request.query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  return (
    /Signature=([0-9a-f]{64})/.exec(
      String(signed.headers.authorization ?? signed.headers.Authorization),
    )?.[1] ?? ''
  );
}

function denied(description: string) {
  return new AwsApiError('access_denied', description);
}
