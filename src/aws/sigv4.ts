import { timingSafeEqual } from 'node:crypto';
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
  body: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * Verifies an AWS Signature Version 4 request signature (service `sso-oauth`) against the
 * configured access keys, by signing the same request again with @smithy/signature-v4 and
 * comparing. Throws AccessDeniedException on any mismatch.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
export async function verifySigV4(
  request: SignedRequest,
  keys: readonly { accessKeyId: string; secretAccessKey: string }[],
  service = 'sso-oauth',
): Promise<{ accessKeyId: string; region: string }> {
  const header = String(request.headers.authorization ?? '');
  const match = AUTH.exec(header);
  if (!match)
    throw new AwsApiError('access_denied', 'the request is not signed with AWS Signature Version 4');
  const [, accessKeyId = '', day = '', region = '', signedService, signedHeaderList = '', signature = ''] =
    match;
  if (signedService !== service)
    throw new AwsApiError(
      'access_denied',
      `the signature is for service "${signedService}", not "${service}"`,
    );
  const key = keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) throw new AwsApiError('access_denied', 'the access key is not recognized');

  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!date || !amzDate.startsWith(day))
    throw new AwsApiError('access_denied', 'x-amz-date is missing or does not match the credential scope');
  const signingDate = new Date(
    Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!),
  );
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS) {
    throw new AwsApiError(
      'access_denied',
      'the signature has expired (x-amz-date is more than 15 minutes off)',
    );
  }

  const signedHeaders = signedHeaderList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = name === 'host' ? request.host : request.headers[name];
    if (value === undefined) throw new AwsApiError('access_denied', `signed header "${name}" is missing`);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const sessionToken = headers['x-amz-security-token'];
  const signer = new SignatureV4({
    service,
    region,
    sha256: Sha256,
    credentials: {
      accessKeyId,
      secretAccessKey: key.secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    uriEscapePath: true,
    applyChecksum: !!headers['x-amz-content-sha256'],
  });
  const [hostname, port] = request.host.split(':');
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: hostname ?? '',
      ...(port ? { port: Number(port) } : {}),
      path: request.path,
      query: request.query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(
      String(signed.headers.authorization ?? signed.headers.Authorization),
    )?.[1] ?? '';
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new AwsApiError('access_denied', 'the request signature does not match');
  }
  return { accessKeyId, region };
}
