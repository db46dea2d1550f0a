import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Views } from '../http/views.js';
import { AppError } from '../http/app-error.js';
import { findPendingDeviceCode } from '../oidc/device-approval.js';
import { willIssueRefreshToken } from '../oidc/refresh-token-policy.js';
import { describeScopes } from './scope-descriptions.js';

/**
 * The one page of a device-flow login after sign-in: device confirmation and consent together.
 * It names the application, shows the user code to compare with the device's (RFC 8628 §5.4),
 * lists what the device asked for, says whether access outlasts the visit, and asks Allow or
 * Deny. Allow posts to the interaction's `/confirm`, Deny to its `/abort` (which ends the device
 * code with `access_denied`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.3
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 */
export async function renderDeviceApproval(
  ctx: Context,
  deps: { provider: Provider; views: Views; userCodeMask: string },
  page: {
    uid: string;
    deviceCodeId: string;
    csrf: string;
    client: Client | undefined;
    clientName: string;
    unverifiedClient: boolean;
    accountName: string | undefined;
  },
): Promise<void> {
  const pending = await findPendingDeviceCode(deps.provider, page.deviceCodeId, deps.userCodeMask);
  if (!pending) {
    throw new AppError(
      400,
      'invalid_request',
      'This device code has expired or was already used. Start again on your device to get a new code.',
      'device code not pending',
    );
  }
  deps.views.render(ctx, 'device-approval', {
    title: 'Allow access on a device?',
    clientName: page.clientName,
    unverifiedClient: page.unverifiedClient,
    keepsAccess: !!page.client && willIssueRefreshToken(page.client, new Set(pending.scope)),
    userCode: pending.userCode,
    scopes: describeScopes(pending.scope),
    accountName: page.accountName,
    action: `/interaction/${page.uid}/confirm`,
    abortAction: `/interaction/${page.uid}/abort`,
    csrf: page.csrf,
  });
}
