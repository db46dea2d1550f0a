import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { readForm, UserAgent } from '../support/browserless.js';
import { codeFlow, discover, silentAuthorization } from '../support/rp-client.js';
import {
  BACKCHANNEL_LOGOUT_EVENT,
  startLogoutReceiver,
  verifyLogoutToken,
  type LogoutReceiver,
} from '../support/logout-receiver.js';

/**
 * OpenID Connect Back-Channel Logout 1.0 end to end: two relying parties (openid-client) signed in
 * in one browser session; signing out at /logout sends each a logout token it can verify.
 */
const rp = (name: string, receiver: LogoutReceiver, extra: Record<string, unknown> = {}) => ({
  client_id: `rp-${name}`,
  client_secret: `rp-${name}-secret-0123456789`,
  redirect_uris: [`https://${name}.example.com/cb`],
  post_logout_redirect_uris: [`https://${name}.example.com/logged-out`],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  backchannel_logout_uri: receiver.url,
  ...extra,
});

describe.each(['memory', 'redis'] as const)('Back-Channel Logout at /logout (%s store)', (kind) => {
  let redis: RedisServer | undefined;
  let gh: RunningGatehouse;
  let receivers: { a: LogoutReceiver; b: LogoutReceiver; slow: LogoutReceiver };
  let clients: { a: ReturnType<typeof rp>; b: ReturnType<typeof rp>; slow: ReturnType<typeof rp> };
  let a: client.Configuration;
  let b: client.Configuration;
  let slow: client.Configuration;

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedisServer();
    receivers = {
      a: await startLogoutReceiver(),
      b: await startLogoutReceiver(),
      slow: await startLogoutReceiver({ respond: 'hang' }),
    };
    clients = {
      a: rp('a', receivers.a, { backchannel_logout_session_required: true }),
      b: rp('b', receivers.b),
      slow: rp('slow', receivers.slow),
    };
    gh = await startTestGatehouse({
      env: redis ? { REDIS_URL: redis.url } : {},
      overrides: {
        clients: [...Object.values(TEST_CLIENTS), ...Object.values(clients)],
        backchannelLogout: { enabled: true, timeoutMs: 1500, allowPrivateHosts: true },
      },
    });
    const basic = (c: ReturnType<typeof rp>) =>
      discover(gh.issuer, c, client.ClientSecretBasic(c.client_secret));
    [a, b, slow] = await Promise.all([basic(clients.a), basic(clients.b), basic(clients.slow)]);
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all(Object.values(receivers ?? {}).map((r) => r.close()));
    await redis?.destroy();
  });

  it('advertises back-channel logout with sid in discovery', async () => {
    const metadata = a.serverMetadata();
    expect(metadata.backchannel_logout_supported).toBe(true);
    expect(metadata.backchannel_logout_session_supported).toBe(true);
  });

  it('sends both relying parties of the session a verifiable logout token on the quiet logout', async () => {
    const before = { a: receivers.a.tokens.length, b: receivers.b.tokens.length };
    const signedA = await codeFlow(a, clients.a.redirect_uris[0]!);
    const signedB = await codeFlow(b, clients.b.redirect_uris[0]!, {}, { ua: signedA.ua });
    const { res, url } = await signedA.ua.follow(
      client.buildEndSessionUrl(a, {
        id_token_hint: signedA.tokens.id_token!,
        post_logout_redirect_uri: clients.a.post_logout_redirect_uris[0]!,
      }).href,
    );
    expect(res.status).toBe(303);
    expect(url).toBe(clients.a.post_logout_redirect_uris[0]);

    const tokenA = await receivers.a.waitFor(before.a + 1);
    const tokenB = await receivers.b.waitFor(before.b + 1);
    const verifiedA = await verifyLogoutToken(gh.issuer, tokenA, clients.a.client_id);
    const verifiedB = await verifyLogoutToken(gh.issuer, tokenB, clients.b.client_id);
    for (const { payload } of [verifiedA, verifiedB]) {
      expect(payload.sub).toBe(TEST_USERS.alice.claims.sub);
      expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
      expect(payload).not.toHaveProperty('nonce');
      expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    }
    expect(verifiedA.payload.jti).not.toBe(verifiedB.payload.jti);
    // rp-a registered backchannel_logout_session_required: its token names the session it knew.
    expect(verifiedA.payload.sid).toBe(signedA.tokens.claims()!.sid);
    expect(signedB.tokens.claims()!.sid).toEqual(expect.any(String));
    expect(
      (await silentAuthorization(a, clients.a.redirect_uris[0]!, signedA.ua)).searchParams.get('error'),
    ).toBe('login_required');
  });

  it('sends them after the "Sign out?" page too (logout.confirm)', async () => {
    const before = { a: receivers.a.tokens.length, b: receivers.b.tokens.length };
    const signedA = await codeFlow(a, clients.a.redirect_uris[0]!);
    await codeFlow(b, clients.b.redirect_uris[0]!, {}, { ua: signedA.ua });
    const page = await signedA.ua.follow(
      client.buildEndSessionUrl(a, { client_id: clients.a.client_id }).href,
    );
    const { action, fields } = readForm(await page.res.text());
    const done = await signedA.ua.submit(new URL(action, page.url).href, { ...fields, logout: 'yes' });
    expect(new URL(done.url).pathname).toBe('/logout/success');
    const token = await receivers.a.waitFor(before.a + 1);
    await receivers.b.waitFor(before.b + 1);
    expect(decodeJwt(token).sid).toEqual(expect.any(String));
  });

  it('never makes the logout page wait for a relying party that does not answer; counts the timeout', async () => {
    const signed = await codeFlow(slow, clients.slow.redirect_uris[0]!);
    const started = performance.now();
    const { res } = await signed.ua.follow(
      client.buildEndSessionUrl(slow, { id_token_hint: signed.tokens.id_token! }).href,
    );
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    await receivers.slow.waitFor(1);
    await gh.backchannelLogout.drain();
    const metrics = await (await fetch(`${gh.issuer}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_backchannel_logout_total\{result="timeout"[^}]*\} 1\b/);
    expect(metrics).toMatch(/gatehouse_backchannel_logout_total\{result="delivered"[^}]*\} [1-9]/);
  });

  it('sends nothing to a client the browser never signed in to', async () => {
    const ua = new UserAgent(gh.issuer);
    const before = receivers.b.tokens.length;
    const signedA = await codeFlow(a, clients.a.redirect_uris[0]!, {}, { ua });
    const beforeA = receivers.a.tokens.length;
    await ua.follow(client.buildEndSessionUrl(a, { id_token_hint: signedA.tokens.id_token! }).href);
    await receivers.a.waitFor(beforeA + 1);
    await gh.backchannelLogout.drain();
    expect(receivers.b.tokens).toHaveLength(before);
  });
});

describe('Back-Channel Logout across two instances on one Redis', () => {
  let redis: RedisServer;
  let first: RunningGatehouse;
  let second: RunningGatehouse;
  let receivers: LogoutReceiver[];
  let clients: ReturnType<typeof rp>[];
  beforeAll(async () => {
    redis = await startRedisServer();
    receivers = [await startLogoutReceiver(), await startLogoutReceiver()];
    clients = [
      rp('one', receivers[0]!, { backchannel_logout_session_required: true }),
      rp('two', receivers[1]!),
    ];
    const overrides = {
      clients: [...Object.values(TEST_CLIENTS), ...clients],
      backchannelLogout: { enabled: true, timeoutMs: 2000, allowPrivateHosts: true },
    };
    first = await startTestGatehouse({ env: { REDIS_URL: redis.url }, overrides });
    second = await startTestGatehouse({ env: { REDIS_URL: redis.url, ISSUER: first.issuer }, overrides });
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await Promise.all((receivers ?? []).map((r) => r.close()));
    await redis?.destroy();
  });

  it('a session signed in on one instance and ended on the other notifies both relying parties', async () => {
    const [one, two] = await Promise.all(
      clients.map((c) => discover(first.issuer, c, client.ClientSecretBasic(c.client_secret))),
    );
    const signed = await codeFlow(one!, clients[0]!.redirect_uris[0]!);
    await codeFlow(two!, clients[1]!.redirect_uris[0]!, {}, { ua: signed.ua });
    const logout = client.buildEndSessionUrl(one!, { id_token_hint: signed.tokens.id_token! });
    const { res } = await signed.ua.follow(`${second.url}${logout.pathname}${logout.search}`);
    expect(res.status).toBe(200);
    for (const [i, receiver] of receivers.entries()) {
      const { payload } = await verifyLogoutToken(
        first.issuer,
        await receiver.waitFor(1),
        clients[i]!.client_id,
      );
      expect(payload.sub).toBe(TEST_USERS.alice.claims.sub);
    }
    expect(receivers[0]!.tokens).toHaveLength(1);
    expect(receivers[1]!.tokens).toHaveLength(1);
  });
});
