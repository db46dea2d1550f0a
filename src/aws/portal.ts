import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { isStoreUnavailable } from '../storage/store-unavailable.js';
import { PortalError, sendPortalError } from './portal-errors.js';
import { logoutPortalSession } from './portal-logout.js';

/** Where the access portal API is served: `AWS_ENDPOINT_URL_SSO=<issuer>/aws/portal`. */
export const AWS_PORTAL_BASE_PATH = '/aws/portal';

/** The operations of the portal model (`sso-2019-06-10`): path → method and name. */
const OPERATIONS: Readonly<Record<string, { method: 'GET' | 'POST'; name: string }>> = {
  '/logout': { method: 'POST', name: 'Logout' },
  '/assignment/accounts': { method: 'GET', name: 'ListAccounts' },
  '/assignment/roles': { method: 'GET', name: 'ListAccountRoles' },
  '/federation/credentials': { method: 'GET', name: 'GetRoleCredentials' },
};

export interface AwsPortalDeps {
  providers: ProviderRef;
  logger: Logger;
}

/**
 * The AWS access portal API (service `sso`) under /aws/portal, for `aws sso logout`: Logout is
 * served; ListAccounts, ListAccountRoles and GetRoleCredentials (AWS role credentials, which
 * Gatehouse does not issue) answer InvalidRequestException without looking at the token; any
 * other path answers UnknownOperationException (404). Every answer carries `x-amzn-RequestId`
 * (Gatehouse's request id, which botocore reads into `ResponseMetadata.RequestId`).
 *
 * @see https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_Operations.html
 */
export function createAwsPortal(deps: AwsPortalDeps) {
  const { providers, logger } = deps;
  return async function awsPortal(ctx: Context, _next: Next) {
    ctx.set('x-amzn-requestid', String(ctx.state.requestId));
    ctx.set('cache-control', 'no-store');
    const subPath = ctx.path.slice(AWS_PORTAL_BASE_PATH.length);
    const operation = Object.hasOwn(OPERATIONS, subPath) ? OPERATIONS[subPath] : undefined;
    if (!operation) {
      sendPortalError(ctx, 'UnknownOperationException', `no operation at ${ctx.method} ${ctx.path}`);
      return;
    }
    const allowed = operation.method === 'GET' ? ['GET', 'HEAD'] : [operation.method];
    if (!allowed.includes(ctx.method)) {
      ctx.set('allow', allowed.join(', '));
      sendPortalError(
        ctx,
        'InvalidRequestException',
        `${ctx.method} is not allowed; use ${operation.method}`,
      );
      ctx.status = 405; // RFC 9110 §15.5.6, with the model's InvalidRequestException
      return;
    }
    if (operation.name !== 'Logout') {
      sendPortalError(
        ctx,
        'InvalidRequestException',
        `${operation.name} is not supported: Gatehouse issues OIDC tokens, not AWS accounts or role credentials`,
      );
      return;
    }
    try {
      const { clientId, grantId } = await logoutPortalSession(
        providers.current,
        ctx.get('x-amz-sso_bearer_token'),
      );
      (ctx.state.log as Logger | undefined)?.info(
        { audit: true, event: 'grant.revoked', via: 'aws_portal_logout', clientId, grantId },
        'portal logout: token and grant revoked',
      );
      ctx.status = 200; // the model's Logout has no output: an empty body, as AWS answers
      ctx.body = '';
    } catch (err) {
      if (err instanceof PortalError) {
        sendPortalError(ctx, err.exception, err.description);
      } else if (isStoreUnavailable(err)) {
        ctx.set('retry-after', '1');
        sendPortalError(
          ctx,
          'ServiceUnavailableException',
          'the service is temporarily unavailable; try again shortly',
        );
      } else {
        logger.error({ requestId: ctx.state.requestId, err }, 'aws portal error');
        sendPortalError(ctx, 'InternalServerException', 'an internal error occurred');
      }
    }
  };
}
