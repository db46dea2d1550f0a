import type Provider from 'oidc-provider';
import type { Grant } from 'oidc-provider';
import { extendModelPayload } from '../internals.js';

/**
 * Ties a token obtained by token exchange to the access token it was exchanged from.
 *
 * The exchanged token cannot simply join the subject token's grant: oidc-provider requires a
 * token's grant to belong to the token's own client (at /userinfo, /introspect and refresh), and
 * the exchanging client may be another one. So it gets a grant of its own, for its own client,
 * that remembers the subject access token; whenever oidc-provider loads such a grant, the subject
 * token and its grant must still be valid, or the grant is not found and every token of it is
 * inactive. Revoking the subject grant (its refresh token, logout, refresh-token reuse, expiry)
 * or the subject access token itself therefore ends what was exchanged from it, on every
 * instance, at once: the check reads the store, it does not wait for an event.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */

/** The Grant payload member holding the lineage. */
const LINEAGE = 'gatehouseExchangedFrom';

/** How many exchanges may be stacked (each use of a token checks every link). */
export const MAX_EXCHANGE_DEPTH = 4;

export interface ExchangeLineage {
  /** The subject access token (its id, which for opaque tokens is its value). */
  accessToken: string;
  /** 1 for a token exchanged from an ordinary one, +1 for each exchange stacked on that. */
  depth: number;
}

/** The lineage a grant remembers, if it was made by token exchange. */
export function lineageOf(grant: Grant): ExchangeLineage | undefined {
  return (grant as unknown as Record<string, ExchangeLineage | undefined>)[LINEAGE];
}

/** Records on a new (unsaved) grant the access token it is exchanged from. */
export function setLineage(grant: Grant, lineage: ExchangeLineage): void {
  (grant as unknown as Record<string, ExchangeLineage>)[LINEAGE] = lineage;
}

/** Makes the provider's Grant model keep the lineage and honour it whenever a grant is loaded. */
export function enforceExchangeLineage(provider: Provider): void {
  const { Grant, AccessToken } = provider;
  extendModelPayload(Grant as unknown as { IN_PAYLOAD: string[] }, LINEAGE);
  const find = Grant.find.bind(Grant) as (id: string, options?: object) => Promise<Grant | undefined>;

  /** Whether the access token a grant was exchanged from, and its own grant, are still valid. */
  async function subjectValid(lineage: ExchangeLineage): Promise<boolean> {
    const subject = await AccessToken.find(lineage.accessToken);
    if (!subject || subject.isExpired || !subject.grantId) return false;
    const grant = await findGrant(subject.grantId, { ignoreExpiration: true });
    return (
      !!grant &&
      !grant.isExpired &&
      grant.clientId === subject.clientId &&
      grant.accountId === subject.accountId
    );
  }

  async function findGrant(id: string, options?: object): Promise<Grant | undefined> {
    const grant = await find(id, options);
    const lineage = grant && lineageOf(grant);
    if (!grant || !lineage) return grant;
    return (await subjectValid(lineage)) ? grant : undefined;
  }

  (Grant as unknown as { find: typeof findGrant }).find = findGrant;
}
