import type { Client } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { isAwsClient } from './aws-clients.js';
import { isAwsApiRequest } from './aws-api-requests.js';
import { willIssueRefreshToken } from './refresh-token-policy.js';

/**
 * The access-token lifetime (`ttl.AccessToken`) with AWS IAM Identity Center's for the AWS API:
 * - a RegisterClient client that gets no refresh token (it registered no scopes: the AWS CLI's
 *   legacy `sso_start_url` profiles) gets `aws.accessTokenWithoutRefreshSeconds`, 8 hours by
 *   default: AWS's fixed legacy session, after which the user signs in again;
 * - other RegisterClient clients (an `sso-session` registers `sso:account:access`, and gets a
 *   refresh token) and every token the AWS API issues get `aws.accessTokenSeconds`, 1 hour by
 *   default: AWS's access tokens for refreshable sessions, renewed with the refresh token;
 * - everything else keeps `ttl.accessToken`.
 *
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-sso-credentials.html
 */
export function accessTokenLifetime(config: Config) {
  return (_ctx: unknown, token: { scopes?: Set<string> }, client: Client | undefined): number => {
    if (client && isAwsClient(client)) {
      return willIssueRefreshToken(client, token.scopes ?? new Set())
        ? config.aws.accessTokenSeconds
        : config.aws.accessTokenWithoutRefreshSeconds;
    }
    return isAwsApiRequest() ? config.aws.accessTokenSeconds : config.ttl.accessToken;
  };
}
