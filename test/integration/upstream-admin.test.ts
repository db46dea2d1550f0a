import { runAdmin } from '../support/admin-command.js';
import * as client from 'openid-client';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { discover } from '../support/rp-client.js';
import {
  signInThroughUpstream,
  startUpstreamPair,
  TEST_CLIENTS,
  TEST_USERS,
  UPSTREAM_USERS,
  type UpstreamPair,
} from '../support/upstream-op.js';

const web = TEST_CLIENTS.web;

describe('gatehouse-admin upstreams list / unlink', () => {
  let redis: RedisServer;
  let pair: UpstreamPair;
  let rp: client.Configuration;

  beforeAll(async () => {
    redis = await startRedisServer();
    pair = await startUpstreamPair({ brokerEnv: { REDIS_URL: redis.url } });
    rp = await discover(pair.broker.issuer, web, client.ClientSecretBasic(web.client_secret));
  });
  afterAll(async () => {
    await pair?.stop();
    await redis?.destroy();
  });

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  async function subAfterSignIn(user: { username: string; password: string }, upstreamId: string) {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: web.redirect_uris[0],
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const { url: landed } = await signInThroughUpstream(pair, url.href, user, { upstreamId });
    const tokens = await client.authorizationCodeGrant(rp, landed, {
      pkceCodeVerifier: verifier,
      expectedState: 'st',
    });
    return tokens.claims()!.sub;
  }

  it("lists an account's upstreams and unlinks one; the next sign-in there starts afresh", async () => {
    const carol = await subAfterSignIn(UPSTREAM_USERS.carol, 'corp');
    await subAfterSignIn(UPSTREAM_USERS.carol, 'corp-link');
    const linkedAlice = await subAfterSignIn(UPSTREAM_USERS.alice, 'corp-link');
    expect(linkedAlice).toBe(TEST_USERS.alice.claims.sub);

    const listed = await admin(['upstreams', 'list', carol]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^corp\tcarol-up-1\tlinked \d{4}-\d\d-\d\dT/m);
    expect(listed.stdout).not.toMatch(/^corp-link/m); // carol's corp-link account is another one
    expect((await admin(['upstreams', 'list', TEST_USERS.alice.claims.sub])).stdout).toMatch(
      /^corp-link\talice-up-1\t/m,
    );

    const unlinked = await admin(['upstreams', 'unlink', carol, 'corp']);
    expect(unlinked).toMatchObject({ code: 0, stdout: `unlinked ${carol} from upstream corp\n` });
    expect((await admin(['upstreams', 'list', carol])).stdout).toBe(`(no upstreams linked to ${carol})\n`);
    expect(await subAfterSignIn(UPSTREAM_USERS.carol, 'corp')).not.toBe(carol);

    const again = await admin(['upstreams', 'unlink', carol, 'corp']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${carol} is not linked to upstream corp`);
    expect((await admin(['upstreams', 'unlink', carol])).code).toBe(2);
  });
});
