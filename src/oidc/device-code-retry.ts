import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { interceptDeviceCodeRedemption, revokeWholeGrant, type GrantSource } from './internals.js';
import { isAwsApiRequest } from './aws-api-requests.js';

/** The `error_detail` of a retry within the grace (grant-error-details.ts words it for the AWS API). */
export const REDEEMED_RETRY_DETAIL = 'device code already redeemed; retry within the grace';

/**
 * The rules for a device code presented again once redeemed.
 *
 * The AWS API's CreateToken (`aws.redeemedRetryGraceSeconds`; the standard /token keeps
 * oidc-provider's rule): a lost response must not leave a device with dead tokens. Redeeming a
 * device code twice normally revokes everything issued for it (oidc-provider: a consumed code
 * presented again revokes its grant, RFC 6749 §4.1.2 and §10.5). When the second presentation
 * comes from the client the code was issued to (authenticated: this runs after client
 * authentication and after the code has been matched to that client) within `graceSeconds` of
 * the redemption, it is answered `invalid_grant` ("already redeemed") and the tokens stay valid:
 * that is a client retrying a request whose answer it never got. Later, the library's rule
 * applies (revocation).
 *
 * Both endpoints: a redeemed code presented by another client revokes the grant too (RFC 6749
 * §10.5: multiple attempts to exchange a code mean it is compromised). oidc-provider refuses it
 * as "client mismatch" before its reuse check, so it used to revoke nothing. The caller learns
 * nothing from it: the answer is the one for an unknown code.
 *
 * The redemption time is the code's `consumed` mark, written by the store's single-use consume
 * (atomic, and replica-acknowledged on Redis when configured), so every instance sees the same.
 * Resolution is whole seconds: the grace is at least `graceSeconds`, under `graceSeconds + 1`.
 *
 * Who can use the grace: only a holder of the client's credentials (for a RegisterClient client,
 * its secret), within seconds of the redemption, and all it withholds is the revocation: no token
 * is issued twice. Someone who stole the device code and the secret and redeemed first keeps
 * their tokens if the rightful client's next poll falls in the grace; without the secret, or
 * from another client, or later, the replay revokes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.5
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export function guardRedeemedDeviceCodes(provider: Provider, graceSeconds: number): void {
  interceptDeviceCodeRedemption(provider, {
    beforeConsume(ctx: KoaContextWithOIDC, code: GrantSource) {
      if (graceSeconds <= 0 || !code.consumed || !isAwsApiRequest()) return;
      if (code.clientId !== ctx.oidc.client?.clientId) return;
      const since = Math.floor(Date.now() / 1000) - code.consumed;
      if (since >= 0 && since <= graceSeconds) throw new errors.InvalidGrant(REDEEMED_RETRY_DETAIL);
    },
    async otherClientsCode(ctx: KoaContextWithOIDC, code: GrantSource) {
      if (code.consumed && code.grantId) await revokeWholeGrant(ctx, code.grantId);
    },
  });
}
