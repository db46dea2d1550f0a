import type { Client } from 'oidc-provider';
import { isAwsClient } from './aws-clients.js';

/**
 * Whether a grant with these scopes gets a refresh token, i.e. whether the client keeps access
 * after the user leaves. Only for clients allowed the refresh_token grant, and then:
 * - clients registered through the AWS API's RegisterClient: when they registered scopes
 *   (RegisterClient `scopes`), as AWS IAM Identity Center does (an AWS CLI `sso-session`
 *   registers `sso:account:access` and gets one; a legacy profile registers none and gets a
 *   longer access token instead, see aws-token-lifetime.ts);
 * - every other client: for `offline_access` (OpenID Connect Core §11).
 * The one predicate behind `issueRefreshToken`, the access-token lifetime of AWS clients and the
 * pages' notice that the application keeps access.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
 */
export function willIssueRefreshToken(client: Client, scopes: ReadonlySet<string>): boolean {
  if (!client.grantTypeAllowed('refresh_token')) return false;
  if (isAwsClient(client)) return typeof client.scope === 'string' && client.scope.trim() !== '';
  return scopes.has('offline_access');
}
