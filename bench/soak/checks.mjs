// After the Redis restart: do the refresh tokens issued just before it still redeem, exactly once?
// And what became of the tokens whose refresh was cut off by the outage?
import { basicAuth } from '../lib/setup.mjs';

const FORM = 'application/x-www-form-urlencoded';

const redeem = (router, token) =>
  router.request({
    method: 'POST',
    path: '/token',
    headers: { 'content-type': FORM, authorization: basicAuth('bench-web') },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
  });

/**
 * One redemption as a client makes it: a 503 or a dropped connection says "not now", so it is
 * tried again (up to `tries` times, 250 ms apart); any other answer is final.
 */
async function redeemAsClient(router, token, tries = 40) {
  let result;
  for (let k = 0; k < tries; k += 1) {
    result = await redeem(router, token);
    if (result.status !== 503 && result.status !== 0) return { ...result, retries: k };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { ...result, retries: tries };
}

/** Runs `fn` over `items`, `concurrency` at a time, and resolves with the results in order. */
async function eachLimited(items, concurrency, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

const describe = (r) => `${r.status} ${r.error ?? r.body?.slice(0, 160) ?? ''}`.trim();
const refused = (r) => r.status === 400 && r.body?.includes('"invalid_grant"');

/**
 * Each sampled token is redeemed once (must answer 200 with a new refresh token), then each
 * again (must be refused with invalid_grant: single use survived the restart too).
 */
export async function checkRefreshSample(router, sample) {
  const first = await eachLimited(sample, 16, async (item) => ({
    ...(await redeemAsClient(router, item.token)),
    // A refusal of a token (or grant) past its expiry is its TTL, not a loss: counted apart.
    expired: Math.min(item.expiresAt, item.grantExpiresAt) < Date.now() + 1000,
  }));
  const second = await eachLimited(sample, 16, (item) => redeemAsClient(router, item.token));
  const ok = (r) => r.status === 200 && r.body.includes('"refresh_token"');
  const redeemed = first.filter(ok).length;
  const expired = first.filter((r) => !ok(r) && r.expired).length;
  const secondRefused = second.filter(refused).length;
  return {
    sampled: sample.length,
    redeemedOnce: redeemed,
    expiredBeforeRedemption: expired,
    lost: sample.length - redeemed - expired,
    secondRedemptionRefused: secondRefused,
    secondRedemptionAccepted: second.filter((r) => r.status === 200).length,
    retriedAfter503: first.reduce((n, r) => n + r.retries, 0),
    failures: [
      ...first.filter((r) => r.status !== 200).map((r) => `first: ${describe(r)}`),
      ...second.filter((r) => !refused(r)).map((r) => `second: ${describe(r)}`),
    ].slice(0, 10),
  };
}

/**
 * Refresh tokens whose request got a 503 (or no answer): the client still holds them and tries
 * again once the service is back. Those refused now were consumed by a request that then failed.
 */
export async function checkInterrupted(router, interrupted) {
  const results = await eachLimited(interrupted, 16, (item) => redeemAsClient(router, item.token));
  const redeemed = results.filter((r) => r.status === 200).length;
  return {
    interrupted: interrupted.length,
    // When each refused one got its 503 (ms since the epoch; run.mjs makes them soak seconds).
    refusedInterruptedAt: interrupted
      .filter((_, i) => refused(results[i]))
      .map((x) => ({ at: x.interruptedAt, status: x.status })),
    redeemedAfterwards: redeemed,
    refusedAfterwards: results.filter(refused).length,
    other: results
      .filter((r) => r.status !== 200 && !refused(r))
      .map(describe)
      .slice(0, 10),
  };
}
