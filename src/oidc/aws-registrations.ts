import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import { AWS_CLIENT_USED_METADATA, isAwsClient, isUsedAwsRegistration } from './aws-clients.js';

type Ctx = KoaContextWithOIDC & { state: { log?: Logger } };

/**
 * Provider middleware keeping RegisterClient registrations that get used: RegisterClient stores
 * them for `aws.unusedRegistrationLifetimeSeconds` only (anonymous registrations nobody uses must
 * not fill the store), and the first successful token response at `/token` (which the AWS API's
 * CreateToken also goes through) extends the record to its full lifetime, which ends at its
 * `client_secret_expires_at`. The client is then marked, so later tokens cost nothing here.
 */
export function keepUsedAwsRegistrations(store: Store, logger: Logger) {
  return async function keepUsedAwsRegistration(ctx: Ctx, next: () => Promise<void>) {
    await next();
    const client = ctx.oidc?.client;
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !client) return;
    if (!isAwsClient(client) || isUsedAwsRegistration(client)) return;
    try {
      await extend(store, client.clientId);
    } catch (err) {
      // The tokens are issued already; failing the response would not undo that. The next
      // successful token tries again, so log and answer.
      (ctx.state?.log ?? logger).warn(
        { err, clientId: client.clientId },
        'could not extend the lifetime of a used AWS registration',
      );
    }
  };
}

async function extend(store: Store, clientId: string): Promise<void> {
  const adapter = store.adapter('Client');
  const metadata = (await adapter.find(clientId)) as Record<string, unknown> | undefined;
  if (!metadata) return;
  const expiresAt = Number(metadata.client_secret_expires_at);
  const remaining = expiresAt - Math.floor(Date.now() / 1000);
  if (!Number.isFinite(remaining) || remaining <= 0) return;
  await adapter.upsert(clientId, { ...metadata, [AWS_CLIENT_USED_METADATA]: true } as never, remaining);
}
