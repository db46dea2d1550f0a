import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  SSOOIDCClient,
  CreateTokenWithIAMCommand,
  AccessDeniedException,
  InvalidGrantException,
} from '@aws-sdk/client-sso-oidc';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { obtainCode } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: CreateTokenWithIAM, where an AWS Signature V4 stands in for the client's
 * secret. A signature must bind the body, the host, the time, the region and the service, and
 * be accepted once.
 */

const IAM_KEY = {
  accessKeyId: 'AKIAGATEHOUSETEST01',
  secretAccessKey: 'gatehouse-test-secret-access-key-0123',
};
const WEB = TEST_CLIENTS.web;
const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../support/botocore_sso_oidc.py', import.meta.url));

const overrides = (extra: Record<string, unknown> = {}) => ({
  // Copies: the SDK marks the credential objects it is given.
  aws: {
    iamAccessKeys: [{ accessKeyId: IAM_KEY.accessKeyId, secretAccessKey: IAM_KEY.secretAccessKey }],
    ...extra,
  },
});

/** A CreateTokenWithIAM body for the web client; its code is bogus unless one is given. */
/** Each body differs (a fresh bogus code), so no two tests' signatures can coincide. */
const requestBody = (code = `not-a-real-code-${randomBytes(8).toString('hex')}`) =>
  JSON.stringify({
    clientId: WEB.client_id,
    grantType: 'authorization_code',
    code,
    redirectUri: WEB.redirect_uris[0],
    codeVerifier: 'v'.repeat(43),
  });

interface SignOptions {
  body?: string;
  region?: string;
  service?: string;
  signingDate?: Date;
  /** Headers to leave out of SignedHeaders. */
  unsigned?: string[];
  /** Extra headers to send (and sign). */
  headers?: Record<string, string>;
  applyChecksum?: boolean;
}

/** Signs a CreateTokenWithIAM request with @smithy/signature-v4, as the AWS SDK for JavaScript does. */
async function signRequest(gh: RunningGatehouse, options: SignOptions = {}) {
  const { hostname, port } = new URL(gh.issuer);
  const body = options.body ?? requestBody();
  const signer = new SignatureV4({
    service: options.service ?? 'sso-oauth',
    region: options.region ?? 'us-east-1',
    sha256: Sha256,
    credentials: { ...IAM_KEY },
    uriEscapePath: true,
    applyChecksum: options.applyChecksum ?? true,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname,
      port: Number(port),
      path: '/aws/oidc/token',
      query: { aws_iam: 't' },
      headers: { host: `${hostname}:${port}`, 'content-type': 'application/json', ...options.headers },
      body,
    },
    {
      ...(options.signingDate ? { signingDate: options.signingDate } : {}),
      ...(options.unsigned ? { unsignableHeaders: new Set(options.unsigned) } : {}),
    },
  );
  return { headers: signed.headers as Record<string, string>, body };
}

/** Sends signed headers with `body` (by default the body that was signed). */
async function send(
  gh: RunningGatehouse,
  signed: { headers: Record<string, string>; body: string },
  body?: string,
) {
  const { host: _host, ...headers } = signed.headers;
  const res = await fetch(`${gh.issuer}/aws/oidc/token?aws_iam=t`, {
    method: 'POST',
    headers,
    body: body ?? signed.body,
  });
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** POSTs with exactly these headers, Host included (fetch would set its own). */
function postRaw(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ type: string | undefined; body: Record<string, string> }>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ type: res.headers['x-amzn-errortype'] as string | undefined, body: JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The signature was accepted: the (bogus) code is what is refused. */
const ACCEPTED = { status: 400, type: 'InvalidGrantException' };
const denied = (description: RegExp) => ({
  status: 400,
  type: 'AccessDeniedException',
  body: {
    error: 'access_denied',
    error_description: expect.stringMatching(description),
    message: expect.any(String),
  },
});

describe('POST /aws/oidc/token?aws_iam=t (CreateTokenWithIAM, SigV4)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: overrides() });
  });
  afterAll(() => gh?.stop());

  it('accepts a request signed by @aws-sdk/client-sso-oidc and issues tokens', async () => {
    const iam = new SSOOIDCClient({
      region: 'us-east-1',
      endpoint: `${gh.issuer}/aws/oidc`,
      credentials: { ...IAM_KEY },
    });
    try {
      const { code, verifier } = await obtainCode(gh.issuer);
      const out = await iam.send(
        new CreateTokenWithIAMCommand({
          clientId: WEB.client_id,
          grantType: 'authorization_code',
          code,
          redirectUri: WEB.redirect_uris[0],
          codeVerifier: verifier,
        }),
      );
      expect(out.accessToken).toEqual(expect.any(String));
    } finally {
      iam.destroy();
    }
  });

  it('accepts a request signed with @smithy/signature-v4, with or without x-amz-content-sha256', async () => {
    expect(await send(gh, await signRequest(gh))).toMatchObject(ACCEPTED);
    expect(await send(gh, await signRequest(gh, { applyChecksum: false }))).toMatchObject(ACCEPTED);
  });

  it('refuses a tampered body sent with the original x-amz-content-sha256 and signature', async () => {
    const signed = await signRequest(gh);
    expect(signed.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    const tampered = JSON.stringify({ ...JSON.parse(signed.body), clientId: 'post-app' });
    expect(await send(gh, signed, tampered)).toMatchObject(denied(/x-amz-content-sha256 does not match/));
  });

  it('refuses a tampered body when the payload hash was not sent as a header', async () => {
    const signed = await signRequest(gh, { applyChecksum: false });
    expect(signed.headers['x-amz-content-sha256']).toBeUndefined();
    const tampered = JSON.stringify({ ...JSON.parse(signed.body), clientId: 'post-app' });
    expect(await send(gh, signed, tampered)).toMatchObject(denied(/signature does not match/));
  });

  it.each(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'])(
    'refuses x-amz-content-sha256: %s',
    async (value) => {
      const signed = await signRequest(gh, { headers: { 'x-amz-content-sha256': value } });
      expect(signed.headers.authorization).toContain('x-amz-content-sha256');
      expect(await send(gh, signed)).toMatchObject(denied(/is not accepted: the body must be signed/));
    },
  );

  it.each([['host'], ['x-amz-date'], ['host', 'x-amz-date']])(
    'refuses a signature whose SignedHeaders leave out %s',
    async (...unsigned) => {
      const signed = await signRequest(gh, { unsigned });
      for (const name of unsigned)
        expect(signed.headers.authorization).not.toMatch(new RegExp(`[=;]${name}[;,]`));
      expect(await send(gh, signed)).toMatchObject(denied(/SignedHeaders must include/));
    },
  );

  it('refuses a signature for another region', async () => {
    expect(await send(gh, await signRequest(gh, { region: 'eu-west-1' }))).toMatchObject(
      denied(/region "eu-west-1", not "us-east-1"/),
    );
  });

  it.each(['sso', 'oidc', 'sts'])('refuses a signature for the service %s', async (service) => {
    expect(await send(gh, await signRequest(gh, { service }))).toMatchObject(
      denied(new RegExp(`service "${service}", not "sso-oauth"`)),
    );
  });

  it.each([
    ['6 minutes old', -6],
    ['6 minutes ahead', 6],
  ])('refuses a signature %s, and accepts one 4 minutes off', async (_label, minutes) => {
    const at = (m: number) => new Date(Date.now() + m * 60_000);
    expect(await send(gh, await signRequest(gh, { signingDate: at(minutes) }))).toMatchObject(
      denied(/more than 5 minutes off/),
    );
    expect(await send(gh, await signRequest(gh, { signingDate: at(Math.sign(minutes) * 4) }))).toMatchObject(
      ACCEPTED,
    );
  });

  it('refuses an exact replay of a signed request', async () => {
    const signed = await signRequest(gh);
    expect(await send(gh, signed)).toMatchObject(ACCEPTED);
    expect(await send(gh, signed)).toMatchObject(denied(/already received/));
  });

  it('refuses a replay of a request the SDK sent successfully', async () => {
    const captured: { headers: Record<string, string>; body: string }[] = [];
    const iam = new SSOOIDCClient({
      region: 'us-east-1',
      endpoint: `${gh.issuer}/aws/oidc`,
      credentials: { ...IAM_KEY },
    });
    iam.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body: string };
        captured.push({ headers: { ...request.headers }, body: request.body });
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'captureSigned' },
    );
    try {
      const { code, verifier } = await obtainCode(gh.issuer);
      await iam.send(
        new CreateTokenWithIAMCommand({
          clientId: WEB.client_id,
          grantType: 'authorization_code',
          code,
          redirectUri: WEB.redirect_uris[0],
          codeVerifier: verifier,
        }),
      );
    } finally {
      iam.destroy();
    }
    const last = captured.at(-1)!;
    expect(last.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(await send(gh, last)).toMatchObject(denied(/already received/));
  });

  it('refuses, through the SDK, a signature made for another region', async () => {
    const iam = new SSOOIDCClient({
      region: 'eu-west-1',
      endpoint: `${gh.issuer}/aws/oidc`,
      credentials: { ...IAM_KEY },
      maxAttempts: 1,
    });
    try {
      const err = await iam
        .send(
          new CreateTokenWithIAMCommand({
            clientId: WEB.client_id,
            grantType: 'authorization_code',
            code: 'x',
          }),
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AccessDeniedException);
    } finally {
      iam.destroy();
    }
  });
});

describe('aws.region', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: overrides({ region: 'eu-west-1' }) });
  });
  afterAll(() => gh?.stop());

  it('accepts the configured region and refuses us-east-1', async () => {
    const client = (region: string) =>
      new SSOOIDCClient({
        region,
        endpoint: `${gh.issuer}/aws/oidc`,
        credentials: { ...IAM_KEY },
        maxAttempts: 1,
      });
    const call = (region: string) => {
      const iam = client(region);
      return iam
        .send(
          new CreateTokenWithIAMCommand({
            clientId: WEB.client_id,
            grantType: 'authorization_code',
            code: 'x',
            redirectUri: WEB.redirect_uris[0],
            codeVerifier: 'v'.repeat(43),
          }),
        )
        .catch((e: unknown) => e)
        .finally(() => iam.destroy());
    };
    expect(await call('eu-west-1')).toBeInstanceOf(InvalidGrantException);
    expect(await call('us-east-1')).toBeInstanceOf(AccessDeniedException);
  });
});

describe('CreateTokenWithIAM signed by botocore', () => {
  let gh: RunningGatehouse;
  let python: string;
  beforeAll(async () => {
    python = ['python3', '/usr/bin/python3'].find((candidate) => {
      try {
        execFileSync(candidate, ['-c', 'import botocore'], { stdio: 'ignore' });
        return true;
      } catch {
        return false; // try the next interpreter
      }
    })!;
    if (!python) throw new Error('no python3 with botocore: install python3-botocore (bash .ci/run does)');
    gh = await startTestGatehouse({ overrides: overrides() });
  });
  afterAll(() => gh?.stop());

  const botocore = async (params: Record<string, unknown>, region = 'us-east-1') => {
    const { stdout } = await run(
      python,
      [SCRIPT, `${gh.issuer}/aws/oidc`, 'create_token_with_iam', JSON.stringify(params)],
      {
        env: {
          ...process.env,
          SIGN_ACCESS_KEY_ID: IAM_KEY.accessKeyId,
          SIGN_SECRET_ACCESS_KEY: IAM_KEY.secretAccessKey,
          SIGN_REGION: region,
        },
      },
    );
    return JSON.parse(stdout) as { ok?: Record<string, unknown>; error?: string };
  };

  it('accepts botocore’s signature and issues tokens', async () => {
    const { code, verifier } = await obtainCode(gh.issuer);
    const out = await botocore({
      clientId: WEB.client_id,
      grantType: 'authorization_code',
      code,
      redirectUri: WEB.redirect_uris[0],
      codeVerifier: verifier,
    });
    expect(out.ok).toMatchObject({ accessToken: expect.any(String), tokenType: 'Bearer' });
  });

  it('refuses botocore’s signature for another region', async () => {
    const out = await botocore(
      { clientId: WEB.client_id, grantType: 'authorization_code', code: 'x' },
      'eu-west-1',
    );
    expect(out.error).toBe('AccessDeniedException');
  });
});

describe('the replay cache is in the store (two instances, one Redis)', () => {
  let redis: RedisServer;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    const env = { REDIS_URL: redis.url };
    a = await startTestGatehouse({ overrides: overrides(), env });
    b = await startTestGatehouse({ overrides: overrides(), env });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('refuses at one instance a signed request first received by the other', async () => {
    const signed = await signRequest(a);
    // Same Host: the signature covers it, and both instances answer for the same issuer in production.
    expect(await send(a, signed)).toMatchObject(ACCEPTED);
    const replay = await postRaw(`${b.issuer}/aws/oidc/token?aws_iam=t`, signed.headers, signed.body);
    expect(replay.type).toBe('AccessDeniedException');
    expect(replay.body.error_description).toMatch(/already received/);
  });
});
