import { errors } from 'oidc-provider';
import { SESSIONS_INDEXED_PER_ACCOUNT, type Store } from '../../src/storage/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The storage contract every Store implementation must pass, unchanged: the oidc-provider
 * adapter methods (see oidc-provider's example/my_adapter.js) plus Gatehouse's own records.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<Store>,
  cleanup?: (store: Store) => Promise<void>,
) {
  describe(`${name} store contract`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await cleanup?.(store);
      await store.close();
    });

    const id = () => `id-${Math.random().toString(36).slice(2)}`;

    describe('adapter(model)', () => {
      it('finds what it upserted, as a copy', async () => {
        const a = store.adapter('AccessToken');
        const key = id();
        await a.upsert(key, { jti: key, accountId: 'sub-1', scope: 'openid' }, 60);
        const found = await a.find(key);
        expect(found).toEqual({ jti: key, accountId: 'sub-1', scope: 'openid' });
        found!.scope = 'changed';
        expect((await a.find(key))!.scope).toBe('openid');
      });

      it('keeps models apart', async () => {
        const key = id();
        await store.adapter('AccessToken').upsert(key, { kind: 'AccessToken' }, 60);
        expect(await store.adapter('RefreshToken').find(key)).toBeUndefined();
      });

      it('replaces a record on a second upsert', async () => {
        const a = store.adapter('Session');
        const key = id();
        await a.upsert(key, { uid: 'u1', accountId: 'x' }, 60);
        await a.upsert(key, { uid: 'u1', accountId: 'y' }, 60);
        expect((await a.find(key))!.accountId).toBe('y');
      });

      it('forgets a record after expiresIn seconds', async () => {
        const a = store.adapter('AuthorizationCode');
        const key = id();
        await a.upsert(key, { grantId: 'g' }, 1);
        expect(await a.find(key)).toBeDefined();
        await sleep(1200);
        expect(await a.find(key)).toBeUndefined();
      });

      it('keeps device codes past expiry so polling can answer expired_token', async () => {
        const a = store.adapter('DeviceCode');
        const key = id();
        await a.upsert(key, { userCode: `UC${key}` }, 1);
        await sleep(1200);
        expect(await a.find(key)).toBeDefined();
      });

      it('finds a session by uid and a device code by user code', async () => {
        const key = id();
        await store.adapter('Session').upsert(key, { uid: `uid-${key}` }, 60);
        expect((await store.adapter('Session').findByUid(`uid-${key}`))!.uid).toBe(`uid-${key}`);
        await store.adapter('DeviceCode').upsert(key, { userCode: `code-${key}` }, 60);
        expect((await store.adapter('DeviceCode').findByUserCode(`code-${key}`))!.userCode).toBe(
          `code-${key}`,
        );
        expect(await store.adapter('Session').findByUid('nope')).toBeUndefined();
        expect(await store.adapter('DeviceCode').findByUserCode('nope')).toBeUndefined();
      });

      it('destroys a record and its secondary indexes', async () => {
        const key = id();
        const a = store.adapter('Session');
        await a.upsert(key, { uid: `uid-${key}` }, 60);
        await a.destroy(key);
        expect(await a.find(key)).toBeUndefined();
        expect(await a.findByUid(`uid-${key}`)).toBeUndefined();
      });

      it("indexes sessions by account: live ones found, destroyed and expired ones not, others' never", async () => {
        const [account, other] = [id(), id()];
        const sessions = store.adapter('Session');
        const [kept, destroyed, expiring, theirs] = [id(), id(), id(), id()];
        await sessions.upsert(kept, { uid: kept, accountId: account }, 60);
        await sessions.upsert(destroyed, { uid: destroyed, accountId: account }, 60);
        await sessions.upsert(expiring, { uid: expiring, accountId: account }, 1);
        await sessions.upsert(theirs, { uid: theirs, accountId: other }, 60);
        await sessions.upsert(id(), { uid: 'anonymous' }, 60);
        await sessions.destroy(destroyed);
        await sleep(1200);
        expect(await store.sessionsOf(account)).toEqual({ ids: [kept], complete: true });
        expect(await store.sessionsOf(other)).toEqual({ ids: [theirs], complete: true });
        expect(await store.sessionsOf('nobody')).toEqual({ ids: [], complete: true });
      });

      it(`keeps at most ${SESSIONS_INDEXED_PER_ACCOUNT} sessions per account, the last to expire, and says it dropped some`, async () => {
        const account = id();
        const sessions = store.adapter('Session');
        const ids = Array.from({ length: SESSIONS_INDEXED_PER_ACCOUNT + 2 }, () => id());
        // The first two expire soonest: they are the ones dropped.
        for (const [i, key] of ids.entries())
          await sessions.upsert(key, { accountId: account }, 600 + i * 10);
        const indexed = await store.sessionsOf(account);
        expect(indexed.complete).toBe(false);
        expect(indexed.ids.sort()).toEqual(ids.slice(2).sort());
        await sessions.upsert(id(), { accountId: account }, 6000);
        expect((await store.sessionsOf(account)).ids).toHaveLength(SESSIONS_INDEXED_PER_ACCOUNT);
      });

      it('marks a record consumed', async () => {
        const a = store.adapter('AuthorizationCode');
        const key = id();
        await a.upsert(key, { grantId: id() }, 60);
        await a.consume(key);
        expect(typeof (await a.find(key))!.consumed).toBe('number');
      });

      it('lets exactly one of 50 parallel consumes win; losers get invalid_grant and the grant is revoked', async () => {
        const grantId = id();
        const code = id();
        const at = id();
        await store.adapter('AuthorizationCode').upsert(code, { grantId }, 60);
        await store.adapter('AccessToken').upsert(at, { grantId }, 60);
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, () => store.adapter('AuthorizationCode').consume(code)),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(49);
        for (const r of lost) {
          expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
        }
        expect(await store.adapter('AccessToken').find(at)).toBeUndefined();
      });

      it('revokes every token of a grant, across models, and nothing else', async () => {
        const grantId = id();
        const other = id();
        const keys = { AccessToken: id(), RefreshToken: id(), AuthorizationCode: id(), DeviceCode: id() };
        for (const [model, key] of Object.entries(keys)) {
          await store
            .adapter(model)
            .upsert(key, { grantId, userCode: model === 'DeviceCode' ? `uc-${key}` : undefined }, 60);
        }
        const survivor = id();
        await store.adapter('AccessToken').upsert(survivor, { grantId: other }, 60);
        await store.adapter('AccessToken').revokeByGrantId(grantId);
        for (const [model, key] of Object.entries(keys)) {
          expect(await store.adapter(model).find(key)).toBeUndefined();
        }
        expect(await store.adapter('AccessToken').find(survivor)).toBeDefined();
      });
    });

    describe('pollDeviceCode', () => {
      const poll = (clientId: string, key: string, now = Date.now()) => ({
        clientId,
        key,
        now,
        intervalSeconds: 5,
        slowDownSeconds: 5,
        ttlSeconds: 60,
        freePolls: 1,
      });
      const pending = (clientId: string) => ({ clientId, exp: Math.floor(Date.now() / 1000) + 600 });

      it('records polls of a pending code of that client, and the next find returns the record', async () => {
        const code = id();
        await store.adapter('DeviceCode').upsert(code, pending('device-client'), 600);
        const now = Date.now();
        expect(await store.pollDeviceCode(code, poll('device-client', `poll:${code}`, now))).toEqual({
          tooSoon: false,
          interval: 5,
        });
        expect(await store.adapter('DeviceCode').find(code)).toMatchObject(pending('device-client'));
        expect(await store.pollDeviceCode(code, poll('device-client', `poll:${code}`, now + 1000))).toEqual({
          tooSoon: true,
          interval: 10,
        });
      });

      it('records nothing for an unknown, approved, denied, consumed or expired code, or another client', async () => {
        const a = store.adapter('DeviceCode');
        const cases: Array<[string, string]> = [];
        const unknown = id();
        cases.push([unknown, 'device-client']);
        const other = id();
        await a.upsert(other, pending('device-client'), 600);
        cases.push([other, 'someone-else']);
        const approved = id();
        await a.upsert(approved, { ...pending('device-client'), accountId: 'sub-1' }, 600);
        cases.push([approved, 'device-client']);
        const denied = id();
        await a.upsert(denied, { ...pending('device-client'), error: 'access_denied' }, 600);
        cases.push([denied, 'device-client']);
        const consumed = id();
        await a.upsert(consumed, pending('device-client'), 600);
        await a.consume(consumed);
        cases.push([consumed, 'device-client']);
        const expired = id();
        await a.upsert(expired, { clientId: 'device-client', exp: Math.floor(Date.now() / 1000) - 5 }, 600);
        cases.push([expired, 'device-client']);
        for (const [code, clientId] of cases) {
          expect(await store.pollDeviceCode(code, poll(clientId, `poll:${code}`))).toBeUndefined();
          expect(await store.getRecord(`poll:${code}`)).toBeUndefined();
        }
        expect(await a.find(unknown)).toBeUndefined();
        expect(await a.find(approved)).toMatchObject({ accountId: 'sub-1' });
        expect((await a.find(consumed))!.consumed).toEqual(expect.any(Number));
      });
    });

    describe('blocks', () => {
      it('answers blocked-until for a blocked key and 0 for others, in sync', async () => {
        expect(await store.blocks.whenSynced()).toBe(true);
        const key = `blocks:${id()}`;
        expect(store.blocks.blockedUntil(key)).toBe(0);
        const until = Date.now() + 60_000;
        await store.blocks.block(key, until);
        expect(store.blocks.blockedUntil(key)).toBe(until);
        expect(store.blocks.blockedUntil(`${key}-other`)).toBe(0);
      });

      it('lifts a block on unblock and when it expires', async () => {
        const lifted = `blocks:${id()}`;
        await store.blocks.block(lifted, Date.now() + 60_000);
        await store.blocks.unblock(lifted);
        expect(store.blocks.blockedUntil(lifted)).toBe(0);
        const expiring = `blocks:${id()}`;
        await store.blocks.block(expiring, Date.now() + 150);
        await sleep(250);
        expect(store.blocks.blockedUntil(expiring)).toBe(0);
        // The re-read from the store agrees.
        expect(await store.blocks.whenSynced()).toBe(true);
        expect(store.blocks.blockedUntil(expiring)).toBe(0);
      });
    });

    describe('records', () => {
      it('gets what it set, and deletes it', async () => {
        const key = id();
        await store.setRecord(key, { a: 1, b: ['x'] });
        expect(await store.getRecord(key)).toEqual({ a: 1, b: ['x'] });
        await store.deleteRecord(key);
        expect(await store.getRecord(key)).toBeUndefined();
      });

      it('expires records with a TTL', async () => {
        const key = id();
        await store.setRecord(key, 'v', 1);
        await sleep(1200);
        expect(await store.getRecord(key)).toBeUndefined();
      });

      it('setRecordIfAbsent lets exactly one of many concurrent writers win', async () => {
        const key = id();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.setRecordIfAbsent(key, { i })),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.getRecord(key)).toEqual({ i: winner });
      });

      it('deletes exactly the keys deleteWhere matches', async () => {
        const tag = id();
        await store.setRecord(`${tag}-a`, 1);
        await store.setRecord(`${tag}-b`, 2);
        await store.adapter('AccessToken').upsert(tag, { grantId: 'g' }, 60);
        const deleted = await store.deleteWhere(
          (key) => key === `rec:${tag}-a` || key === `AccessToken:${tag}`,
        );
        expect(deleted).toBe(2);
        expect(await store.getRecord(`${tag}-a`)).toBeUndefined();
        expect(await store.getRecord(`${tag}-b`)).toBe(2);
        expect(await store.adapter('AccessToken').find(tag)).toBeUndefined();
      });

      it('lists keys by prefix', async () => {
        const tag = id();
        await store.setRecord(`${tag}:one`, 1);
        await store.setRecord(`${tag}:two`, 2);
        expect((await store.listKeys(`rec:${tag}:`)).sort()).toEqual([`rec:${tag}:one`, `rec:${tag}:two`]);
      });

      it('recordPoll: first poll on time, a quicker one is too soon and grows the interval, a later one is on time', async () => {
        const key = id();
        const t0 = 1_800_000_000_000;
        expect(await store.recordPoll(key, t0, 5, 5, 60)).toEqual({ tooSoon: false, interval: 5 });
        expect(await store.recordPoll(key, t0 + 4_999, 5, 5, 60)).toEqual({ tooSoon: true, interval: 10 });
        // The grown interval counts from the last poll and stays for all later polls.
        expect(await store.recordPoll(key, t0 + 4_999 + 9_999, 5, 5, 60)).toEqual({
          tooSoon: true,
          interval: 15,
        });
        expect(await store.recordPoll(key, t0 + 4_999 + 9_999 + 15_000, 5, 5, 60)).toEqual({
          tooSoon: false,
          interval: 15,
        });
      });

      it('recordPoll: of 20 concurrent first polls exactly one is on time', async () => {
        const key = id();
        const now = Date.now();
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.recordPoll(key, now, 5, 5, 60)),
        );
        expect(results.filter((r) => !r.tooSoon)).toHaveLength(1);
        expect(Math.max(...results.map((r) => r.interval))).toBe(5 + 19 * 5);
      });

      it('recordPoll: the first `freePolls` polls are never too soon, the next quick one is', async () => {
        const key = id();
        const t0 = 1_800_000_000_000;
        expect(await store.recordPoll(key, t0, 1, 5, 60, 2)).toEqual({ tooSoon: false, interval: 1 });
        expect(await store.recordPoll(key, t0 + 10, 1, 5, 60, 2)).toEqual({ tooSoon: false, interval: 1 });
        expect(await store.recordPoll(key, t0 + 1_010, 1, 5, 60, 2)).toEqual({ tooSoon: false, interval: 1 });
        expect(await store.recordPoll(key, t0 + 1_020, 1, 5, 60, 2)).toEqual({ tooSoon: true, interval: 6 });
      });

      it('recordPoll: of 20 concurrent first polls with two free, exactly two are on time', async () => {
        const key = id();
        const now = Date.now();
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.recordPoll(key, now, 1, 5, 60, 2)),
        );
        expect(results.filter((r) => !r.tooSoon)).toHaveLength(2);
      });

      it('answers ping while healthy', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
