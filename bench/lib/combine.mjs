// Rounds of one scenario and target combined into the figures the report shows.

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round1 = (n) => Math.round(n * 10) / 10;

/** Rounds of one scenario and target combined: medians of rates and latencies, sums of errors. */
export function combine(scenario, target, workers, rounds) {
  const pick = (key) => rounds.map((r) => r[key]);
  return {
    scenario: scenario.name,
    workers,
    target: target.name,
    unit: scenario.unit ?? 'req/s',
    rate: round1(median(pick('rate'))),
    rounds: rounds.map((r) => ({
      rate: round1(r.rate),
      p50: r.p50,
      p99: r.p99,
      cpu: r.cpu,
      errors: r.errors,
    })),
    httpRequestsPerSecond: Math.round(median(pick('httpRequestsPerSecond'))),
    p50: median(pick('p50')),
    p99: median(pick('p99')),
    errors: pick('errors').reduce((a, b) => a + b, 0),
    timeouts: pick('timeouts').reduce((a, b) => a + b, 0),
    exhausted: pick('exhausted').reduce((a, b) => a + b, 0),
    sample: rounds.find((r) => r.sample)?.sample,
    disturbedRounds: rounds.filter((r) => r.disturbed).length,
    redisCommandsPerUnit: median(pick('redisCommandsPerUnit')),
    ...(rounds.every((r) => r.redisRoundTripsPerUnit !== undefined)
      ? { redisRoundTripsPerUnit: median(pick('redisRoundTripsPerUnit')) }
      : {}),
    cpu: Object.fromEntries(
      ['server', 'redis', 'loadGenerator', 'other'].map((k) => [
        k,
        Math.round(median(rounds.map((r) => r.cpu[k])) * 100) / 100,
      ]),
    ),
    rssPeak: {
      total: Math.max(...rounds.map((r) => r.rssPeak.total)),
      largest: Math.max(...rounds.map((r) => r.rssPeak.largest)),
    },
  };
}
