import { z } from 'zod';
import type { Context } from 'koa';
import { AwsApiError } from './errors.js';

/**
 * Request shapes of the AWS SSO OIDC model, member for member (camelCase on the wire).
 * Unknown members are ignored, as AWS does; required members and types are enforced.
 */
const str = z.string();
const strList = z.array(z.string());

export const registerClientRequest = z.object({
  clientName: str.min(1),
  clientType: str.min(1),
  scopes: strList.optional(),
  redirectUris: strList.optional(),
  grantTypes: strList.optional(),
  issuerUrl: str.optional(),
  entitledApplicationArn: str.optional(),
});

export const startDeviceAuthorizationRequest = z.object({
  clientId: str.min(1),
  clientSecret: str.min(1),
  startUrl: str.min(1),
});

export const createTokenRequest = z.object({
  clientId: str.min(1),
  clientSecret: str.min(1),
  grantType: str.min(1),
  deviceCode: str.optional(),
  code: str.optional(),
  refreshToken: str.optional(),
  scope: strList.optional(),
  redirectUri: str.optional(),
  codeVerifier: str.optional(),
});

export const createTokenWithIamRequest = z.object({
  clientId: str.min(1),
  grantType: str.min(1),
  code: str.optional(),
  refreshToken: str.optional(),
  assertion: str.optional(),
  scope: strList.optional(),
  redirectUri: str.optional(),
  subjectToken: str.optional(),
  subjectTokenType: str.optional(),
  requestedTokenType: str.optional(),
  codeVerifier: str.optional(),
});

/** Parses the raw JSON body into a request shape, or throws InvalidRequestException. */
export function parseRequest<T extends z.ZodType>(ctx: Context, schema: T, raw: string): z.infer<T> {
  const type = ctx.get('content-type');
  if (raw.length > 0 && type && !/^application\/(x-amz-json-1\.[01]|json)\b/i.test(type)) {
    throw new AwsApiError('invalid_request', `unsupported content type "${type.split(';')[0]}"`);
  }
  let value: unknown;
  try {
    value = raw.length ? JSON.parse(raw) : {};
  } catch {
    throw new AwsApiError('invalid_request', 'the request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new AwsApiError('invalid_request', 'the request body must be a JSON object');
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const member = issue.path.map(String).join('.') || 'body';
    const missing = issue.code === 'invalid_type' && (value as Record<string, unknown>)[member] === undefined;
    throw new AwsApiError(
      'invalid_request',
      missing ? `${member} is required` : `${member}: ${issue.message}`,
    );
  }
  return result.data;
}
