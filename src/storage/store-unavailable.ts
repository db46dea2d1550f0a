import { errors } from 'oidc-provider';

/**
 * Thrown by a store that cannot reach its backend. It is oidc-provider's own error type so the
 * provider renders it as `503 {"error":"temporarily_unavailable"}` (RFC 6749 §4.1.2.1) instead
 * of a masked server_error; http/store-outage.ts adds Retry-After.
 */
export class StoreUnavailableError extends errors.OIDCProviderError {
  /** Why, for operators (/readyz, logs); never part of an OAuth response. */
  readonly reason: string | undefined;

  constructor(cause?: unknown, reason?: string) {
    super(503, 'temporarily_unavailable', { cause: cause instanceof Error ? cause : undefined });
    this.error_description = 'the service is temporarily unavailable; try again shortly';
    this.reason = reason;
    // oidc-provider hides errors with status >= 500 unless told they are safe to show.
    this.expose = true;
    // An outage is not the client's fault: show it on our page rather than redirecting.
    this.allow_redirect = false;
  }
}

/**
 * A single-use write (a consume, a revocation, a replay-cache entry) that fewer replicas than
 * `redis.consumeAckReplicas` acknowledged in time. The request fails closed like any outage:
 * a replica promoted now might not know the write, so nothing may be issued on its strength.
 */
export class UnacknowledgedWriteError extends StoreUnavailableError {}

export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
