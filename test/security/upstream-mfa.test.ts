import * as client from 'openid-client';
import { discover } from '../support/rp-client.js';
import {
  signInThroughUpstream,
  startUpstreamPair,
  TEST_CLIENTS,
  UPSTREAM_USERS,
  type UpstreamPair,
} from '../support/upstream-op.js';

const web = TEST_CLIENTS.web;
const redirectUri = web.redirect_uris[0];

/**
 * Attack: with a second factor required (`mfa.policy: "required"`), sign in through an upstream
 * whose ID token does not say `mfa`, hoping the broker takes the upstream's word for one factor.
 */
describe('a required second factor and sign-in through an upstream', () => {
  let pair: UpstreamPair;
  let rp: client.Configuration;
  beforeAll(async () => {
    pair = await startUpstreamPair({ brokerOverrides: { mfa: { policy: 'required' } } });
    rp = await discover(pair.broker.issuer, web, client.ClientSecretBasic(web.client_secret));
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it('never lets a one-factor upstream sign-in through: the browser is back on the sign-in page, no code', async () => {
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const result = await signInThroughUpstream(pair, url.href, UPSTREAM_USERS.carol);
    expect(result.url.origin).toBe(pair.broker.issuer);
    expect(result.url.searchParams.get('code')).toBeNull();
    expect(result.html).toMatch(/name="password"/);
    expect(result.html).toMatch(/name="upstream"/);
  });
});
