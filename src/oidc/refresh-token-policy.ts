import type { Client } from 'oidc-provider';
import { isAwsClient } from './aws-clients.js';

/**
 * Whether a grant with these scopes gets a refresh token, i.e. whether the client keeps access
 * after the user leaves: only for `offline_access` (OpenID Connect Core §11) and only for
 * clients allowed the refresh_token grant; clients registered through the AWS API with that
 * grant always get one, as at AWS. The one predicate behind `issueRefreshToken` and the
 * consent page's notice.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
 */
export function willIssueRefreshToken(client: Client, scopes: ReadonlySet<string>): boolean {
  return client.grantTypeAllowed('refresh_token') && (scopes.has('offline_access') || isAwsClient(client));
}
