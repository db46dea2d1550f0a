import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { obtainCode, redeemCode, refresh } from '../support/flows.js';

const atHash = (accessToken: string) =>
  createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

describe('ID tokens from the token endpoint', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  it('carry at_hash of the access token issued with them, with nonce, auth_time and sid', async () => {
    const { code, verifier } = await obtainCode(gh.issuer, { offline: true });
    const tokens = await redeemCode(gh.issuer, code, verifier);
    const claims = decodeJwt(tokens.body.id_token!);
    expect(claims).toMatchObject({
      at_hash: atHash(tokens.body.access_token!),
      nonce: 'n',
      sid: expect.any(String),
      auth_time: expect.any(Number),
    });
    const refreshed = await refresh(gh.issuer, tokens.body.refresh_token!);
    expect(decodeJwt(refreshed.body.id_token!).at_hash).toBe(atHash(refreshed.body.access_token!));
  });
});
