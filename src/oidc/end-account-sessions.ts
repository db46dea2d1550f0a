import type Provider from 'oidc-provider';
import type { AdapterPayload } from 'oidc-provider';
import type { Store } from '../storage/store.js';
import type { BackchannelLogout, DeliveryResult } from './backchannel-logout.js';
import { sendLogoutTokenNow } from './internals.js';

export interface EndAccountSessionsDeps {
  provider: Provider;
  store: Store;
  backchannelLogout: BackchannelLogout;
}

export interface EndedSessions {
  /** Sessions of the account that were ended. */
  sessions: number;
  /** Grants revoked with them (those that outlive a logout kept unless asked, as at /logout). */
  grants: number;
  /** Logout token outcomes, one per client of each session with a backchannel_logout_uri. */
  deliveries: Record<DeliveryResult, number>;
}

type Authorizations = Record<string, { sid?: string; grantId?: string; persistsLogout?: boolean }>;

/**
 * Ends every session of one account, as signing out of each at /logout would, from any process
 * that shares the store (the admin command): each session's grants are revoked (except those
 * oidc-provider marks `persistsLogout`, the device flow's, unless `allGrants`), the session is deleted so
 * no browser is signed in with it any more, and each of its clients registered for back-channel
 * logout is sent a logout token (with that session's `sid`), awaited here.
 *
 * Sessions are found through the store's per-account index (Store.sessionsOf); when that index
 * overflowed, every stored session is read instead. Each session's own `accountId` is checked
 * before anything is touched, so another account's sessions are never ended.
 *
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Backchannel
 */
export async function endAccountSessions(
  deps: EndAccountSessionsDeps,
  accountId: string,
  options: { allGrants?: boolean } = {},
): Promise<EndedSessions> {
  const { provider, store, backchannelLogout } = deps;
  const sessions = store.adapter('Session');
  const indexed = await store.sessionsOf(accountId);
  const ids = indexed.complete
    ? indexed.ids
    : (await store.listKeys('Session:')).map((key) => key.slice('Session:'.length));

  const ended: EndedSessions = {
    sessions: 0,
    grants: 0,
    deliveries: { delivered: 0, failed: 0, timeout: 0 },
  };
  const deliveries: Promise<DeliveryResult>[] = [];
  for (const id of ids) {
    const session = (await sessions.find(id)) as AdapterPayload | undefined;
    if (!session || session.accountId !== accountId) continue;
    const authorizations = (session.authorizations ?? {}) as Authorizations;
    await sessions.destroy(id);
    ended.sessions += 1;
    for (const [clientId, { sid, grantId, persistsLogout }] of Object.entries(authorizations)) {
      if (grantId && (!persistsLogout || options.allGrants)) {
        // The stores' revokeByGrantId removes every token of the grant, whatever the model.
        await store.adapter('AccessToken').revokeByGrantId(grantId);
        await store.adapter('Grant').destroy(grantId);
        ended.grants += 1;
      }
      const client = await provider.Client.find(clientId).catch(() => undefined);
      if (client?.backchannelLogoutUri) {
        deliveries.push(backchannelLogout.deliver(client, () => sendLogoutTokenNow(client, accountId, sid)));
      }
    }
  }
  for (const result of await Promise.all(deliveries)) ended.deliveries[result] += 1;
  return ended;
}
