import {
  CreateTokenWithIAMCommand,
  SSOOIDCClient,
  type CreateTokenWithIAMCommandInput,
} from '@aws-sdk/client-sso-oidc';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { approveDevice, basicAuth } from './flows.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

export interface FormAnswer {
  status: number;
  body: Record<string, unknown> & { error?: string; access_token?: string };
}

/** POSTs a form to an endpoint as a client: HTTP Basic, or client_secret_post with `post`. */
export async function postAsClient(
  issuer: string,
  path: string,
  client: ClientCredentials,
  params: Record<string, string>,
  method: 'basic' | 'post' = 'basic',
): Promise<FormAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (method === 'basic') headers.authorization = basicAuth(client.client_id, client.client_secret);
  else {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  }
  const res = await fetch(`${issuer}${path}`, { method: 'POST', headers, body });
  const text = await res.text(); // /revoke answers 200 with an empty body
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as FormAnswer['body'] };
}

/** GET /userinfo with a bearer token; the status and the JSON (or null). */
export async function userinfo(issuer: string, accessToken: string) {
  const res = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  return {
    status: res.status,
    body: res.status === 200 ? ((await res.json()) as Record<string, unknown>) : null,
  };
}

/** Registers a client anonymously, as anyone can, through the AWS API's RegisterClient. */
export async function registerAwsClient(
  issuer: string,
  extra: Record<string, unknown> = {},
): Promise<ClientCredentials & { status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/aws/oidc/client/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientName: 'attacker-cli', clientType: 'public', ...extra }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    body,
    client_id: String(body.clientId),
    client_secret: String(body.clientSecret),
  };
}

/** An access token for an AWS-registered client: device authorization approved by alice. */
export async function awsDeviceAccessToken(issuer: string, client: ClientCredentials): Promise<string> {
  const post = async (path: string, body: Record<string, unknown>) =>
    (await (
      await fetch(`${issuer}/aws/oidc${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, string>;
  const credentials = { clientId: client.client_id, clientSecret: client.client_secret };
  const start = await post('/device_authorization', {
    ...credentials,
    startUrl: 'https://d-0000000000.awsapps.com/start',
  });
  await approveDevice(issuer, start.verificationUriComplete!);
  const tokens = await post('/token', {
    ...credentials,
    grantType: 'urn:ietf:params:oauth:grant-type:device_code',
    deviceCode: start.deviceCode,
  });
  if (!tokens.accessToken) throw new Error(`no access token: ${JSON.stringify(tokens)}`);
  return tokens.accessToken;
}

/**
 * A partner identity provider trusted by Gatehouse (`trustedIssuers`), naming users by email.
 * `sign` makes a well-formed assertion (jti, iat, exp five minutes later) unless told otherwise.
 */
export async function createPartnerIssuer(issuer = 'https://partner-idp.example.com') {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const trusted = {
    issuer,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'p1', alg: 'ES256' }] },
    accountClaim: 'email',
  };
  return {
    issuer,
    trusted,
    /**
     * Signs `claims`; `iat`/`exp` default to now and now + 300, `jti` to a fresh UUID.
     * Pass `null` to leave a registered claim out.
     */
    sign(
      claims: JWTPayload & Record<string, unknown>,
      options: { jti?: string | null; iat?: number | null; exp?: number | null; key?: CryptoKey } = {},
    ) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { iss: issuer, ...claims };
      const jti = options.jti === undefined ? randomUUID() : options.jti;
      const iat = options.iat === undefined ? now : options.iat;
      const exp = options.exp === undefined ? (iat ?? now) + 300 : options.exp;
      if (jti !== null) payload.jti = jti;
      if (iat !== null) payload.iat = iat;
      if (exp !== null) payload.exp = exp;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: 'p1' })
        .sign(options.key ?? privateKey);
    },
  };
}

/** An IAM access key the grant suites configure in `aws.iamAccessKeys` (test values only). */
export const IAM_KEY = {
  accessKeyId: 'AKIAGATEHOUSETEST01',
  secretAccessKey: 'gatehouse-test-secret-access-key-0123',
};

/**
 * Sends CreateTokenWithIAM through the real AWS SDK, signed with IAM_KEY, and returns what it
 * threw (or its response, when it did not).
 */
export async function createTokenWithIamOutcome(
  issuer: string,
  input: CreateTokenWithIAMCommandInput,
): Promise<unknown> {
  const iam = new SSOOIDCClient({
    region: 'us-east-1',
    endpoint: `${issuer}/aws/oidc`,
    credentials: IAM_KEY,
  });
  try {
    return await iam.send(new CreateTokenWithIAMCommand(input)).catch((e: unknown) => e);
  } finally {
    iam.destroy();
  }
}

/**
 * One AWS API call: `body` as JSON to `<issuer>/aws/oidc<path>`, with any extra headers; answers
 * the status, the AWS error type (`x-amzn-ErrorType`, null on success) and the JSON body.
 */
export async function postAwsJson(
  issuer: string,
  path: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${issuer}/aws/oidc${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: (await res.json()) as Record<string, string>,
  };
}
