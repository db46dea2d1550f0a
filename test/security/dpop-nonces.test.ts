import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { DPOP_NONCE_SECRET_RECORD } from '../../src/keys/dpop-nonce-secret.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { authorize, discover, recordRequests } from '../support/rp-client.js';
import { basicAuth } from '../support/flows.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Trust boundary: DPoP server nonces (RFC 9449 §8, `dpop.nonces`). With nonces required, a proof
 * is accepted only with a nonce this server handed out in the last minutes, so proofs cannot be
 * made ahead of time by someone who holds the key briefly; any instance accepts any instance's
 * nonce because they share one secret kept in the store.
 */
const SERVICE = TEST_CLIENTS.service;
const SPA = TEST_CLIENTS.spa;

const payload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

async function proof(key: KeyPair, claims: { htu: string; nonce?: string; iat?: number; htm?: string }) {
  return new SignJWT({
    htm: claims.htm ?? 'POST',
    htu: claims.htu,
    jti: randomUUID(),
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    ...(claims.nonce !== undefined ? { nonce: claims.nonce } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
    .sign(key.privateKey);
}

/** client_credentials for the `service` client at `base`, with a DPoP proof. */
async function serviceToken(base: string, dpop: string) {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(SERVICE.client_id, SERVICE.client_secret),
      dpop,
    },
    body: 'grant_type=client_credentials&scope=api%3Aread',
  });
  return {
    status: res.status,
    nonce: res.headers.get('dpop-nonce'),
    body: (await res.json()) as Record<string, string>,
  };
}

describe('dpop.nonces "required"', () => {
  let gh: RunningGatehouse;
  let key: KeyPair;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { dpop: { nonces: 'required' } } });
    key = await generateKeyPair('ES256');
  });
  afterAll(() => gh?.stop());

  it('refuses a proof without a nonce with use_dpop_nonce and hands one out', async () => {
    const res = await serviceToken(gh.issuer, await proof(key, { htu: `${gh.issuer}/token` }));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('use_dpop_nonce');
    expect(res.nonce).toEqual(expect.any(String));
    const retry = await serviceToken(
      gh.issuer,
      await proof(key, { htu: `${gh.issuer}/token`, nonce: res.nonce! }),
    );
    expect(retry.status).toBe(200);
    expect(retry.body.token_type).toBe('DPoP');
  });

  it('refuses a nonce it never handed out', async () => {
    const res = await serviceToken(
      gh.issuer,
      await proof(key, { htu: `${gh.issuer}/token`, nonce: 'made-up-nonce-value' }),
    );
    expect(res).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    expect(res.nonce).toEqual(expect.any(String));
  });

  it.each([
    ['a number', 12345],
    ['an empty string', ''],
    ['10 000 characters', 'n'.repeat(10000)],
    ['an object', { nonce: 'x' }],
  ])('answers a nonce that is %s with a 400 DPoP error', async (_what, nonce) => {
    const dpop = await new SignJWT({
      htm: 'POST',
      htu: `${gh.issuer}/token`,
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      nonce,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
      .sign(key.privateKey);
    const res = await serviceToken(gh.issuer, dpop);
    expect(res.status).toBe(400);
    expect(['invalid_dpop_proof', 'use_dpop_nonce']).toContain(res.body.error);
  });

  it('works through openid-client, which retries /token once with the nonce', async () => {
    const config = await discover(gh.issuer, SERVICE, client.ClientSecretBasic(SERVICE.client_secret));
    const seen = recordRequests(config);
    const dpop = client.getDPoPHandle(config, key);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' }, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const proofs = seen.map((r) => r.headers.get('dpop')).filter((p): p is string => !!p);
    expect(proofs).toHaveLength(2);
    expect(payload(proofs[0]!).nonce).toBeUndefined();
    expect(payload(proofs[1]!).nonce).toEqual(expect.any(String));
  });

  it('openid-client retries /userinfo once with the nonce from its use_dpop_nonce answer', async () => {
    const config = await discover(gh.issuer, SPA, client.None());
    const { callback, verifier, state, nonce } = await authorize(config, SPA.redirect_uris[0], {
      scope: 'openid email',
    });
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce },
      undefined,
      { DPoP: client.getDPoPHandle(config, key) },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const seen = recordRequests(config);
    // A new handle holds no nonce yet: the first /userinfo call is answered use_dpop_nonce.
    const info = await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck, {
      DPoP: client.getDPoPHandle(config, key),
    });
    expect(info.email).toBe(TEST_USERS.alice.claims.email);
    const calls = seen.filter((r) => r.url.endsWith('/userinfo'));
    expect(calls).toHaveLength(2);
    expect(payload(calls[0]!.headers.get('dpop')!).nonce).toBeUndefined();
    expect(payload(calls[1]!.headers.get('dpop')!).nonce).toEqual(expect.any(String));
  });
});

describe('dpop.nonces "offered"', () => {
  let gh: RunningGatehouse;
  let key: KeyPair;
  beforeAll(async () => {
    gh = await startTestGatehouse({ overrides: { dpop: { nonces: 'offered' } } });
    key = await generateKeyPair('ES256');
  });
  afterAll(() => gh?.stop());

  it('accepts a recent proof without a nonce, and hands out a nonce with the answer', async () => {
    const res = await serviceToken(gh.issuer, await proof(key, { htu: `${gh.issuer}/token` }));
    expect(res.status).toBe(200);
    expect(res.nonce).toEqual(expect.any(String));
  });

  it('answers a stale proof (clock an hour off) with use_dpop_nonce; with the nonce it works', async () => {
    const iat = Math.floor(Date.now() / 1000) - 3600;
    const res = await serviceToken(gh.issuer, await proof(key, { htu: `${gh.issuer}/token`, iat }));
    expect(res).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    const retry = await serviceToken(
      gh.issuer,
      await proof(key, { htu: `${gh.issuer}/token`, iat, nonce: res.nonce! }),
    );
    expect(retry.status).toBe(200);
  });

  it('still refuses a proof for another method or address, nonce or not', async () => {
    const { nonce } = await serviceToken(gh.issuer, await proof(key, { htu: `${gh.issuer}/token` }));
    for (const wrong of [{ htu: `${gh.issuer}/token`, htm: 'GET' }, { htu: `${gh.issuer}/userinfo` }]) {
      const res = await serviceToken(gh.issuer, await proof(key, { ...wrong, nonce: nonce! }));
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    }
  });
});

describe('dpop.nonces across instances sharing Redis', () => {
  const ISSUER = 'http://gatehouse.test';
  let redis: RedisServer;
  let instances: RunningGatehouse[];
  beforeAll(async () => {
    redis = await startRedisServer();
    const start = () =>
      startTestGatehouse({
        env: { REDIS_URL: redis.url, ISSUER },
        overrides: { dpop: { nonces: 'required' } },
      });
    instances = [await start(), await start()];
  });
  afterAll(async () => {
    for (const gh of instances ?? []) await gh.stop();
    await redis?.destroy();
  });

  it('keeps one secret in the store, generated once', async () => {
    const record = await instances[0]!.store.getRecord<{ secret: string }>(DPOP_NONCE_SECRET_RECORD);
    expect(Buffer.from(record!.secret, 'base64url')).toHaveLength(32);
    expect(await instances[1]!.store.getRecord(DPOP_NONCE_SECRET_RECORD)).toEqual(record);
  });

  it('accepts at one instance the nonce another handed out', async () => {
    const key = await generateKeyPair('ES256');
    const [a, b] = instances as [RunningGatehouse, RunningGatehouse];
    const first = await serviceToken(a.url, await proof(key, { htu: `${ISSUER}/token` }));
    expect(first).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    const atB = await serviceToken(b.url, await proof(key, { htu: `${ISSUER}/token`, nonce: first.nonce! }));
    expect(atB.status).toBe(200);
    expect(atB.body.token_type).toBe('DPoP');
  });
});

describe('dpop.nonces in the configuration', () => {
  it('refuses an unknown value at start-up, naming the key', async () => {
    await expect(startTestGatehouse({ overrides: { dpop: { nonces: 'sometimes' } } })).rejects.toThrow(
      /dpop\.nonces/,
    );
  });
});
