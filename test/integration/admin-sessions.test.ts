import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS, BOB_SCRYPT } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent } from '../support/browserless.js';
import { authorize, discover, silentAuthorization } from '../support/rp-client.js';
import { startLogoutReceiver, verifyLogoutToken, type LogoutReceiver } from '../support/logout-receiver.js';

const ADMIN = fileURLToPath(new URL('../../dist/bin/admin.js', import.meta.url));

/**
 * `gatehouse-admin sessions revoke USERNAME`, a separate process on the store a running server
 * uses: the user's sessions end everywhere and every relying party of them gets a logout token,
 * signed with the keys the server publishes.
 */
describe('gatehouse-admin sessions revoke', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  let receivers: LogoutReceiver[];
  let rps: client.Configuration[];
  let dir: string;
  let env: Record<string, string>;
  const registered = (name: string, receiver: LogoutReceiver) => ({
    client_id: `rp-${name}`,
    client_secret: `rp-${name}-secret-0123456789`,
    redirect_uris: [`https://${name}.example.com/cb`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    backchannel_logout_uri: receiver.url,
    backchannel_logout_session_required: true,
  });
  let clients: ReturnType<typeof registered>[];

  beforeAll(async () => {
    redis = await startRedisServer();
    receivers = [await startLogoutReceiver(), await startLogoutReceiver()];
    clients = [registered('one', receivers[0]!), registered('two', receivers[1]!)];
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-admin-sessions-'));
    const configFile = join(dir, 'config.json');
    // The admin process reads the same configuration as the server: clients, users, policy.
    writeFileSync(
      configFile,
      JSON.stringify({
        clients: [TEST_CLIENTS.web, ...clients],
        users: [TEST_USERS.alice, { ...TEST_USERS.bob, password: BOB_SCRYPT }],
        backchannelLogout: { enabled: true, timeoutMs: 2000, allowPrivateHosts: true },
      }),
    );
    env = { REDIS_URL: redis.url, CONFIG_FILE: configFile };
    gh = await startTestGatehouse({ env, overrides: { clients: [TEST_CLIENTS.web, ...clients] } });
    rps = await Promise.all(
      clients.map((c) => discover(gh.issuer, c, client.ClientSecretBasic(c.client_secret))),
    );
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all((receivers ?? []).map((r) => r.close()));
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = (args: string[], extraEnv: Record<string, string | undefined> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [ADMIN, ...args],
        { env: { ...process.env, ...env, NODE_ENV: 'test', ISSUER: gh.issuer, ...extraEnv } },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  const signIn = async (rp: number, ua: UserAgent, user: { username: string; password: string }) => {
    const auth = await authorize(rps[rp]!, clients[rp]!.redirect_uris[0]!, {}, { ua, user });
    return client.authorizationCodeGrant(rps[rp]!, auth.callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
  };
  const signedIn = async (rp: number, ua: UserAgent) =>
    (await silentAuthorization(rps[rp]!, clients[rp]!.redirect_uris[0]!, ua)).searchParams.has('code');

  it("ends the user's sessions, sends each relying party a logout token, and leaves other users signed in", async () => {
    const alice = new UserAgent(gh.issuer);
    const aliceTokens = [await signIn(0, alice, TEST_USERS.alice), await signIn(1, alice, TEST_USERS.alice)];
    const bob = new UserAgent(gh.issuer);
    await signIn(0, bob, TEST_USERS.bob);

    const revoked = await admin(['sessions', 'revoke', 'alice']);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    expect(revoked.stdout).toBe(
      'ended 1 session(s) of alice, revoked 2 grant(s); logout tokens: 2 delivered, 0 failed\n',
    );

    for (const [i, receiver] of receivers.entries()) {
      expect(receiver.tokens).toHaveLength(1);
      const { payload } = await verifyLogoutToken(gh.issuer, receiver.tokens[0]!, clients[i]!.client_id);
      expect(payload.sub).toBe(TEST_USERS.alice.claims.sub);
      expect(payload.sid).toBe(aliceTokens[i]!.claims()!.sid);
    }
    expect(await signedIn(0, alice)).toBe(false);
    expect(await signedIn(0, bob)).toBe(true);
    expect(await client.tokenIntrospection(rps[0]!, aliceTokens[0]!.access_token)).toEqual({ active: false });
  });

  it('says so for an unknown user, and needs the shared store', async () => {
    expect(await admin(['sessions', 'revoke', 'nobody'])).toMatchObject({
      code: 1,
      stderr: 'gatehouse-admin: no user nobody\n',
    });
    expect(await admin(['sessions', 'revoke'])).toMatchObject({ code: 2 });
    expect(await admin(['sessions', 'revoke', 'alice'], { REDIS_URL: '' })).toMatchObject({
      code: 1,
      stderr: 'gatehouse-admin: set REDIS_URL: the in-memory store lives only inside the server\n',
    });
  });
});
