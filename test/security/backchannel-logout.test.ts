import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { isSpecialUseIP } from '../../src/oidc/internals.js';
import { endAccountSessions } from '../../src/oidc/end-account-sessions.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent } from '../support/browserless.js';
import { authorize, codeFlow, discover, silentAuthorization } from '../support/rp-client.js';
import { startLogoutReceiver, verifyLogoutToken, type LogoutReceiver } from '../support/logout-receiver.js';

/**
 * Trust boundary: back-channel logout, where Gatehouse makes requests of its own to addresses
 * clients registered, and where a signed statement "this user is signed out" leaves the house.
 * A client must not turn it into a request into the private network (SSRF), a logout token
 * must be verifiable by and only by the client it names, no client outside the session hears of
 * it, and ending one user's sessions must leave everyone else's alone.
 */
const BIN = fileURLToPath(new URL('../../dist/bin/gatehouse.js', import.meta.url));
const PRODUCTION = { NODE_ENV: 'production', GATEHOUSE_ALLOW_INSECURE: 'all', LOG_LEVEL: 'silent' };

const rpWith = (id: string, backchannelLogoutUri: string, extra: Record<string, unknown> = {}) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789`,
  redirect_uris: [`https://${id}.example.com/cb`],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  backchannel_logout_uri: backchannelLogoutUri,
  ...extra,
});

describe('backchannel_logout_uri on an internal address', () => {
  it('refuses allowPrivateHosts in production, with no opt-in (not even GATEHOUSE_ALLOW_INSECURE=all)', () => {
    let refused: unknown;
    try {
      loadConfig({
        env: PRODUCTION,
        overrides: { backchannelLogout: { enabled: true, timeoutMs: 5000, allowPrivateHosts: true } },
      });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain(
      'backchannelLogout.allowPrivateHosts: NODE_ENV=production never delivers logout tokens to loopback or private addresses',
    );
  });

  it.each([
    'http://127.0.0.1:8080/logout',
    'https://localhost/logout',
    'https://admin.localhost./logout',
    'http://10.0.0.7/logout',
    'http://[::1]:9000/logout',
    'http://[::ffff:127.0.0.1]/logout',
    'http://169.254.169.254/latest/meta-data/',
    'http://2130706433/logout',
  ])('production refuses to start with a client whose backchannel_logout_uri is %s', async (uri) => {
    const started = startTestGatehouse({
      env: PRODUCTION,
      overrides: { clients: [TEST_CLIENTS.web, rpWith('intruder', uri)] },
    });
    // Should it start after all, stop it so the failure below is the only consequence.
    void started.then(
      (gh) => gh.stop(),
      () => undefined,
    );
    await expect(started).rejects.toThrow(
      /^clients\.1 \(intruder\): backchannel_logout_uri must not point at a loopback, private or other special-use address$/,
    );
  });

  describe('registered at runtime (the default policy, as in production)', () => {
    let gh: RunningGatehouse;
    beforeAll(async () => {
      gh = await startGatehouse({
        mode: 'test',
        port: 0,
        host: '127.0.0.1',
        env: { LOG_LEVEL: 'silent' },
        overrides: { clients: [TEST_CLIENTS.web] },
      });
    });
    afterAll(() => gh?.stop());

    const register = (uri: string) =>
      fetch(`${gh.issuer}/_test/clients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://rp.example.com/cb'], backchannel_logout_uri: uri }),
      });

    it('answers invalid_client_metadata for an internal address', async () => {
      const res = await register('http://192.168.1.10/logout');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'invalid_client_metadata',
        error_description:
          'backchannel_logout_uri must not point at a loopback, private or other special-use address',
      });
    });

    it('accepts a public https address', async () => {
      const res = await register('https://rp.example.com/backchannel-logout');
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({
        backchannel_logout_uri: 'https://rp.example.com/backchannel-logout',
      });
    });
  });
});

/**
 * A name is checked when it is resolved, at connection time (oidc-provider's SSRF-refusing
 * dispatcher), since DNS may answer differently later. That dispatcher needs Node's real global
 * fetch, which jest's module sandbox hides, so this runs the real server (dist/) as a process.
 */
describe('a backchannel_logout_uri whose name resolves to an internal address (real process)', () => {
  const name = hostname();
  let receiver: LogoutReceiver;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    receiver = await startLogoutReceiver({ listen: '0.0.0.0', host: name });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-bcl-'));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(allowPrivateHosts: boolean): Promise<string> {
    const file = join(dir, `config-${allowPrivateHosts}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        clients: [rpWith('resolver', receiver.url)],
        users: [TEST_USERS.alice],
        backchannelLogout: { enabled: true, timeoutMs: 1000, allowPrivateHosts },
      }),
    );
    const child = spawn(process.execPath, [BIN, '--port', '0'], {
      env: { ...process.env, NODE_ENV: 'development', CONFIG_FILE: file, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
  }

  async function signInAndOut(issuer: string): Promise<void> {
    const registered = rpWith('resolver', receiver.url);
    const rp = await discover(issuer, registered, client.ClientSecretBasic(registered.client_secret));
    const signed = await codeFlow(rp, registered.redirect_uris[0]!);
    const { res } = await signed.ua.follow(
      client.buildEndSessionUrl(rp, { id_token_hint: signed.tokens.id_token! }).href,
    );
    expect(res.status).toBe(200);
  }

  const deliveries = async (issuer: string) =>
    (await (await fetch(`${issuer}/metrics`)).text())
      .split('\n')
      .filter((line) => line.startsWith('gatehouse_backchannel_logout_total'));

  it('is refused by default (failed, counted) and reached only with allowPrivateHosts', async () => {
    // The premise: this machine's own name resolves to a loopback or private address.
    expect(isSpecialUseIP((await lookup(name)).address)).toBe(true);

    const strict = await serve(false);
    await signInAndOut(strict);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await deliveries(strict)).toEqual([expect.stringMatching(/\{result="failed"[^}]*\} 1$/)]);
    expect(receiver.tokens).toHaveLength(0);

    const relaxed = await serve(true);
    await signInAndOut(relaxed);
    await receiver.waitFor(1);
    expect(receiver.tokens).toHaveLength(1);
  });
});

describe.each(['memory', 'redis'] as const)('logout tokens and ending sessions (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let receivers: { a: LogoutReceiver; b: LogoutReceiver; broken: LogoutReceiver };
  const clients = { a: rpWith('rp-a', ''), b: rpWith('rp-b', ''), broken: rpWith('rp-broken', '') };
  let a: client.Configuration;
  let b: client.Configuration;
  let broken: client.Configuration;
  const redirectUris = new Map<client.Configuration, string>();
  const logs: string[] = [];

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    receivers = {
      a: await startLogoutReceiver(),
      b: await startLogoutReceiver(),
      broken: await startLogoutReceiver({ respond: 'error' }),
    };
    for (const key of ['a', 'b', 'broken'] as const) clients[key].backchannel_logout_uri = receivers[key].url;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      logger: pino({ level: 'warn' }, sink),
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), ...Object.values(clients)],
        backchannelLogout: { enabled: true, timeoutMs: 1000, allowPrivateHosts: true },
      },
    });
    const basic = (c: typeof clients.a) => discover(gh.issuer, c, client.ClientSecretBasic(c.client_secret));
    [a, b, broken] = await Promise.all([basic(clients.a), basic(clients.b), basic(clients.broken)]);
    redirectUris.set(a, clients.a.redirect_uris[0]!);
    redirectUris.set(b, clients.b.redirect_uris[0]!);
    redirectUris.set(broken, clients.broken.redirect_uris[0]!);
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all(Object.values(receivers ?? {}).map((r) => r.close()));
    await redis?.destroy();
  });

  /** Signs `user` in to `rp` in `ua` (a new browser by default) and redeems the code. */
  async function signIn(
    rp: client.Configuration,
    ua = new UserAgent(gh.issuer),
    user: { username: string; password: string } = TEST_USERS.alice,
  ) {
    const redirectUri = redirectUris.get(rp)!;
    const auth = await authorize(rp, redirectUri, {}, { ua, user });
    const tokens = await client.authorizationCodeGrant(rp, auth.callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    return { ua, tokens, redirectUri };
  }

  const signedIn = async (rp: client.Configuration, ua: UserAgent) =>
    (await silentAuthorization(rp, redirectUris.get(rp)!, ua)).searchParams.has('code');

  it('a logout token verifies only for the client it was sent to, and only as signed', async () => {
    const before = receivers.a.tokens.length;
    const signed = await signIn(a);
    await signed.ua.follow(client.buildEndSessionUrl(a, { id_token_hint: signed.tokens.id_token! }).href);
    const token = await receivers.a.waitFor(before + 1);
    const { payload, protectedHeader } = await verifyLogoutToken(gh.issuer, token, clients.a.client_id);
    expect(protectedHeader.typ).toBe('logout+jwt');
    expect(payload).not.toHaveProperty('nonce');
    // Replayed at another relying party: the audience is wrong.
    await expect(verifyLogoutToken(gh.issuer, token, clients.b.client_id)).rejects.toThrow(/"aud"/);
    // Rewritten to sign out someone else: the signature no longer matches.
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: TEST_USERS.bob.claims.sub })).toString(
      'base64url',
    );
    await expect(
      verifyLogoutToken(gh.issuer, `${header}.${forged}.${signature}`, clients.a.client_id),
    ).rejects.toThrow(/signature/);
  });

  it('sends no logout token to a client that is not in the session', async () => {
    const before = { a: receivers.a.tokens.length, b: receivers.b.tokens.length };
    const signed = await signIn(a);
    // Another browser signed in to rp-b: a different session, which this logout must not touch.
    const other = await signIn(b);
    await signed.ua.follow(client.buildEndSessionUrl(a, { id_token_hint: signed.tokens.id_token! }).href);
    await receivers.a.waitFor(before.a + 1);
    await gh.backchannelLogout.drain();
    expect(receivers.b.tokens).toHaveLength(before.b);
    expect(await signedIn(b, other.ua)).toBe(true);
  });

  it('logs a failed delivery with the client and the reason, never the token', async () => {
    const signed = await signIn(broken);
    await signed.ua.follow(
      client.buildEndSessionUrl(broken, { id_token_hint: signed.tokens.id_token! }).href,
    );
    const token = await receivers.broken.waitFor(1);
    await gh.backchannelLogout.drain();
    const failure = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.event === 'backchannel_logout.failed');
    expect(failure).toMatchObject({
      clientId: 'rp-broken',
      result: 'failed',
      reason: expect.stringMatching(/500/),
    });
    expect(logs.join('')).not.toContain(token);
    expect(logs.join('')).not.toContain(token.split('.')[2]);
  });

  it("ending one user's sessions (the admin command's operation) leaves another user's alone", async () => {
    const before = { a: receivers.a.tokens.length, b: receivers.b.tokens.length };
    const alice = await signIn(a);
    await signIn(b, alice.ua);
    const aliceElsewhere = await signIn(a);
    const bob = await signIn(a, new UserAgent(gh.issuer), TEST_USERS.bob);

    const ended = await endAccountSessions(
      { provider: gh.provider, store: gh.store, backchannelLogout: gh.backchannelLogout },
      TEST_USERS.alice.claims.sub,
    );
    expect(ended.sessions).toBeGreaterThanOrEqual(2);
    expect(ended.deliveries).toMatchObject({ failed: 0, timeout: 0 });

    expect(await signedIn(a, alice.ua)).toBe(false);
    expect(await signedIn(a, aliceElsewhere.ua)).toBe(false);
    expect(await signedIn(a, bob.ua)).toBe(true);
    expect(await client.tokenIntrospection(a, alice.tokens.access_token)).toEqual({ active: false });
    expect((await client.tokenIntrospection(a, bob.tokens.access_token)).active).toBe(true);

    const sent = [...receivers.a.tokens.slice(before.a), ...receivers.b.tokens.slice(before.b)];
    expect(sent).toHaveLength(ended.deliveries.delivered);
    // rp-b: alice's session in her first browser (and any left from the tests above).
    expect(receivers.b.tokens.length - before.b).toBeGreaterThanOrEqual(1);
    for (const [receiver, rp] of [
      [receivers.a, clients.a],
      [receivers.b, clients.b],
    ] as const) {
      for (const token of receiver.tokens.slice(rp === clients.a ? before.a : before.b)) {
        const { payload } = await verifyLogoutToken(gh.issuer, token, rp.client_id);
        expect(payload.sub).toBe(TEST_USERS.alice.claims.sub);
      }
    }
  });
});
