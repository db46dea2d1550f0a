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
  // An audit line, through the request's logger (its request id) when there is one. Checked
  // against the level first: at `warn` the hot paths (tokens issued) build nothing.
  const audit = (
    ctx: Ctx | undefined,
    level: 'info' | 'warn',
    fields: Record<string, unknown>,
    message: string,
  ) => {
    if (!logger.isLevelEnabled(level)) return;
    (ctx?.state?.log ?? logger)[level]({ audit: true, ...fields }, message);
  };

  provider.on('grant.success', (ctx: Ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    metrics?.tokensIssued.inc({ grant_type: grantType });
    audit(
      ctx,
      'info',
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
      audit(
        ctx,
        'warn',
        { event: 'refresh_token.reuse', clientId: ctx.oidc.client?.clientId },
        'an already-used refresh token was presented: its grant was revoked',
      );
    }
  });
  provider.on('grant.revoked', (ctx: Ctx, grantId: string) => {
    audit(
      ctx,
      'warn',
      { event: 'grant.revoked', grantId, clientId: ctx?.oidc?.client?.clientId },
      'grant revoked',
    );
  });
  provider.on('end_session.success', (ctx: Ctx) => {
    audit(ctx, 'info', { event: 'logout', clientId: ctx.oidc.client?.clientId }, 'signed out');
  });
  provider.on('server_error', (ctx: Ctx, err: Error) => {
    (ctx?.state?.log ?? logger).error({ err }, 'provider server_error');
  });

  /** Revocation has no success event; observe its route instead. */
  return async function auditRevocation(ctx: Ctx, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
      audit(ctx, 'info', { event: 'token.revoked', clientId: ctx.oidc.client?.clientId }, 'token revoked');
    }
  };
}
