import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Metrics } from '../http/metrics.js';

type Ctx = KoaContextWithOIDC & { state: { requestId?: string; log?: Logger } };

/**
 * Audit log lines (`audit: true`) and metrics from oidc-provider's events: tokens issued,
 * refresh-token reuse and the grant revocation it causes, revocations, logouts, server errors.
 * Never logs token or code values.
 */
export function observeProvider(provider: Provider, logger: Logger, metrics?: Metrics) {
  const log = (ctx: Ctx | undefined) => (ctx?.state?.log ?? logger).child({ audit: true });

  provider.on('grant.success', (ctx: Ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    metrics?.tokensIssued.inc({ grant_type: grantType });
    log(ctx).info(
      {
        event: 'token.issued',
        grantType,
        clientId: ctx.oidc.client?.clientId,
        sub: ctx.oidc.account?.accountId,
      },
      'tokens issued',
    );
  });
  provider.on('grant.error', (ctx: Ctx, err: Error & { error_detail?: string }) => {
    if (err.error_detail === 'refresh token already used') {
      log(ctx).warn(
        { event: 'refresh_token.reuse', clientId: ctx.oidc.client?.clientId },
        'an already-used refresh token was presented: its grant was revoked',
      );
    }
  });
  provider.on('grant.revoked', (ctx: Ctx, grantId: string) => {
    log(ctx).warn(
      { event: 'grant.revoked', grantId, clientId: ctx?.oidc?.client?.clientId },
      'grant revoked',
    );
  });
  provider.on('end_session.success', (ctx: Ctx) => {
    log(ctx).info({ event: 'logout', clientId: ctx.oidc.client?.clientId }, 'signed out');
  });
  provider.on('server_error', (ctx: Ctx, err: Error) => {
    (ctx?.state?.log ?? logger).error({ err }, 'provider server_error');
  });

  /** Revocation has no success event; observe its route instead. */
  return async function auditRevocation(ctx: Ctx, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
      log(ctx).info({ event: 'token.revoked', clientId: ctx.oidc.client?.clientId }, 'token revoked');
    }
  };
}
