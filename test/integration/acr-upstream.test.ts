import * as client from 'openid-client';
import { ACR_MULTI_FACTOR, ACR_PASSWORD, KNOWN_ACR_VALUES } from '../../src/mfa/acr.js';
import { createFactors } from '../../src/mfa/factors.js';
import { discover } from '../support/rp-client.js';
import {
  signInThroughUpstream,
  startUpstreamPair,
  TEST_CLIENTS,
  UPSTREAM_USERS,
  type UpstreamPair,
} from '../support/upstream-op.js';
import { TEST_TOTP_SECRET, totpCode } from '../support/totp.js';

const web = TEST_CLIENTS.web;

describe('acr of sign-ins through an OpenID Connect upstream', () => {
  let pair: UpstreamPair;
  let rp: client.Configuration;
  beforeAll(async () => {
    pair = await startUpstreamPair({ brokerOverrides: { acrValues: [...KNOWN_ACR_VALUES] } });
    rp = await discover(pair.broker.issuer, web, client.ClientSecretBasic(web.client_secret));
  });
  afterAll(() => pair?.stop());

  async function signInAs(user: { username: string; password: string }, otp?: () => string) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: web.redirect_uris[0],
      scope: 'openid',
      acr_values: ACR_MULTI_FACTOR,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const result = await signInThroughUpstream(pair, url.href, user, otp ? { upstreamOtp: otp } : {});
    const tokens = await client.authorizationCodeGrant(rp, result.url, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    return tokens.claims()!;
  }

  it('counts an upstream amr with mfa as multi-factor, and one without as one factor', async () => {
    const one = await signInAs(UPSTREAM_USERS.carol);
    expect(one.amr).toEqual(['pwd']);
    expect(one.acr).toBe(ACR_PASSWORD);

    // bob has an authenticator app at the upstream: it reports pwd, otp, mfa.
    await createFactors(pair.upstream.store, new Map()).setTotp(
      UPSTREAM_USERS.bob.claims.sub,
      TEST_TOTP_SECRET,
    );
    const two = await signInAs(UPSTREAM_USERS.bob, () => totpCode(TEST_TOTP_SECRET));
    expect(two.amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
    expect(two.acr).toBe(ACR_MULTI_FACTOR);
  });
});
