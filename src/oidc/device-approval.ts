import type Provider from 'oidc-provider';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** The routes on which oidc-provider runs a device-flow login (the code entry POST and the return from an interaction). */
const DEVICE_FLOW_ROUTES = new Set(['code_verification', 'device_resume']);

/** The `prompt.reasons` entry that marks a consent interaction as a device approval. */
export const DEVICE_APPROVAL_REASON = 'device_approval';

/**
 * A consent check for device-flow logins: the user must allow every device code explicitly, on
 * the device approval page after sign-in, even when an earlier grant already covers the scopes.
 * An entered code is never approved by the sign-in (or an existing session) alone, so a code
 * someone else started and talked the user into typing still meets the page that shows it and
 * asks. The interaction's result carries `consent` once the user has allowed it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.3
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.4
 */
export function deviceApprovalCheck(): interactionPolicy.Check {
  return new interactionPolicy.Check(
    DEVICE_APPROVAL_REASON,
    'device-flow logins are allowed by the End-User on the device approval page',
    'consent_required',
    (ctx: KoaContextWithOIDC) =>
      DEVICE_FLOW_ROUTES.has(ctx.oidc.route) && !ctx.oidc.result?.consent
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT,
  );
}

/** What the device approval page shows about the device code behind an interaction. */
export interface PendingDeviceCode {
  /** The user code as the device shows it (the configured mask applied). */
  userCode: string;
  /** The scopes the device asked for. */
  scope: string[];
}

/**
 * Finds the device code an interaction is approving, if it can still be approved: not expired,
 * not denied, not yet approved. Returns undefined otherwise.
 */
export async function findPendingDeviceCode(
  provider: Provider,
  deviceCodeId: string,
  mask: string,
): Promise<PendingDeviceCode | undefined> {
  const code = await provider.DeviceCode.find(deviceCodeId);
  if (!code || code.isExpired || code.error || code.accountId) return undefined;
  const scope = typeof code.params?.scope === 'string' ? code.params.scope.split(' ').filter(Boolean) : [];
  return { userCode: maskUserCode(code.userCode, mask), scope };
}

/** Lays a normalized user code out as the configured mask does (`BCDFGHJK` + `****-****` → `BCDF-GHJK`). */
export function maskUserCode(normalized: string, mask: string): string {
  const chars = [...normalized];
  return [...mask].map((slot) => (slot === '*' ? (chars.shift() ?? '') : slot)).join('');
}
