import * as client from 'openid-client';
import { UpstreamRefusal } from './upstream-accounts.js';

/**
 * Why a sign-in through an upstream failed, as the relying party, the metrics and the page see it.
 * `reason` is a stable label for metrics and logs; `error` is what the relying party receives.
 */
export interface UpstreamFailure {
  reason:
    | 'denied'
    | 'unavailable'
    | 'invalid_state'
    | 'replayed'
    | 'invalid_response'
    | 'invalid_id_token'
    | 'email_domain'
    | 'account';
  error: 'access_denied' | 'temporarily_unavailable';
  message: string;
  /** For the logs only: never tokens or secrets. */
  detail: string;
}

/** Classifies what an upstream round trip threw. Messages never carry upstream responses verbatim. */
export function describeUpstreamFailure(err: unknown, upstreamName: string): UpstreamFailure {
  if (err instanceof UpstreamRefusal) {
    return {
      reason: err.reason as UpstreamFailure['reason'],
      error: 'access_denied',
      message: err.userMessage,
      detail: err.reason,
    };
  }
  if (err instanceof client.AuthorizationResponseError) {
    const unavailable = err.error === 'temporarily_unavailable' || err.error === 'server_error';
    return {
      reason: unavailable ? 'unavailable' : 'denied',
      error: unavailable ? 'temporarily_unavailable' : 'access_denied',
      message: unavailable
        ? `${upstreamName} could not sign you in right now. Try again later.`
        : `${upstreamName} did not sign you in.`,
      detail: `authorization response error ${err.error}`,
    };
  }
  const e = err as { name?: string; code?: string; message?: string; status?: number; cause?: unknown };
  const network =
    e.name === 'TimeoutError' ||
    e.name === 'AbortError' ||
    e.code === 'OAUTH_TIMEOUT' ||
    e.name === 'UpstreamUnavailable' ||
    (e.name === 'TypeError' && /fetch failed/i.test(e.message ?? '')) ||
    (err instanceof client.ResponseBodyError && err.status >= 500) ||
    (e.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' &&
      ((e.cause as { status?: number } | undefined)?.status ?? 0) >= 500);
  if (network) {
    return {
      reason: 'unavailable',
      error: 'temporarily_unavailable',
      message: `${upstreamName} did not answer in time. Try again later.`,
      detail: `${e.name ?? 'Error'}: ${e.code ?? ''} ${e.message ?? ''}`.slice(0, 300),
    };
  }
  const idToken = /JWT|ID Token|id_token|nonce|JWS|signature|"aud"|"iss"|"exp"/i.test(e.message ?? '');
  return {
    reason: idToken ? 'invalid_id_token' : 'invalid_response',
    error: 'access_denied',
    message: `The answer from ${upstreamName} could not be verified, so you were not signed in.`,
    detail: `${e.name ?? 'Error'}: ${e.code ?? ''} ${e.message ?? ''}`.slice(0, 300),
  };
}
