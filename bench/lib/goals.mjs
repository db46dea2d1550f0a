// The targets of issue 17 (and the earlier ones still tracked), each with what this run measured
// and whether it is met: true, false, or undefined when this run did not measure it.
import {
  MB,
  cpuPerUnit,
  find,
  fmtCpu,
  fmtRate,
  fmtRatio,
  gatehouseTarget,
  loginCost,
  mb,
  argon2PerCoreOf,
} from './figures.mjs';

/** Target 1: the scenarios where Gatehouse must cost no more than bare oidc-provider. */
export const PROVIDER_SCENARIOS = [
  'token-client-credentials',
  'token-code-rs256',
  'token-code-es256',
  'token-refresh',
  'userinfo',
  'introspection',
  'device-poll',
];
/** Target 3: the static documents, against the floor. */
export const FLOOR_SCENARIOS = ['discovery', 'jwks', 'discovery-revalidate', 'jwks-revalidate'];
const FLOOR_GOAL = 0.9;
const AWS_POLL_GOAL = 1.25;

const TITLES = {
  1: 'token, userinfo, introspection, device poll (one worker): server CPU and Redis round trips per request ≤ bare oidc-provider’s',
  2: `AWS CreateToken poll ≤ ${AWS_POLL_GOAL}× the server CPU of a standard device poll`,
  3: `discovery and JWKS (also revalidated) ≥ ${FLOOR_GOAL}× the rate of bare node:http answering the same bytes (floor)`,
  4: 'login limited by the password hash; logins/s per core for argon2id with the production parameters',
};
const notMeasured = (id) => ({
  id,
  target: TITLES[id],
  measured: 'not measured in this run',
  met: undefined,
});

/** Target 1: server CPU and Redis round trips per request ≤ the baseline's, one worker. */
function providerCost(results) {
  const rows = PROVIDER_SCENARIOS.map((name) => ({
    name,
    gh: find(results, name, 'gatehouse', 1),
    base: find(results, name, 'baseline', 1),
  })).filter((x) => x.gh?.cpu && x.base?.cpu);
  if (!rows.length) return notMeasured(1);
  const over = [];
  let roundTripsMeasured = true;
  for (const { name, gh, base } of rows) {
    const [a, b] = [cpuPerUnit(gh), cpuPerUnit(base)];
    const rtt = [gh.redisRoundTripsPerUnit, base.redisRoundTripsPerUnit];
    if (rtt.some((x) => x === undefined)) roundTripsMeasured = false;
    const parts = [];
    if (a > b) parts.push(`CPU ${fmtCpu(a)} vs ${fmtCpu(b)} µs (${fmtRatio(a / b)})`);
    if (rtt[0] > rtt[1]) parts.push(`round trips ${rtt[0]} vs ${rtt[1]}`);
    if (parts.length) over.push(`${name} ${parts.join(', ')}`);
  }
  const worst = Math.max(...rows.map(({ gh, base }) => cpuPerUnit(gh) / cpuPerUnit(base)));
  return {
    id: 1,
    target: TITLES[1],
    measured:
      (over.length ? `over: ${over.join('; ')}` : `all within; highest CPU ratio ${fmtRatio(worst)}`) +
      (roundTripsMeasured ? '' : ' (Redis round trips not measured in this run)'),
    met: over.length ? false : roundTripsMeasured ? true : undefined,
  };
}

/** Target 2: the AWS CreateToken poll ≤ 1.25× the CPU of a standard device poll. */
function awsPollCost(results) {
  const measured = results.options.workers
    .map((w) => {
      const aws = find(results, 'aws-create-token-poll', 'gatehouse', w);
      const poll = find(results, 'device-poll', 'gatehouse', w);
      return aws?.cpu && poll?.cpu ? { w, aws: cpuPerUnit(aws), poll: cpuPerUnit(poll) } : undefined;
    })
    .filter(Boolean);
  if (!measured.length) return notMeasured(2);
  return {
    id: 2,
    target: TITLES[2],
    measured: measured
      .map((x) => `${x.w}w ${fmtCpu(x.aws)} vs ${fmtCpu(x.poll)} µs (${fmtRatio(x.aws / x.poll)})`)
      .join('; '),
    met: measured.every((x) => x.aws / x.poll <= AWS_POLL_GOAL),
  };
}

/** Target 3: discovery and JWKS ≥ 0.9× the rate of bare node:http answering the same bytes. */
function floorRatio(results) {
  const measured = FLOOR_SCENARIOS.flatMap((name) =>
    results.options.workers.map((w) => {
      const gh = find(results, name, 'gatehouse', w);
      const floor = find(results, name, 'floor', w);
      return gh && floor
        ? { name, w, r: gh.rate / floor.rate, cpu: cpuPerUnit(gh) / cpuPerUnit(floor) }
        : undefined;
    }),
  ).filter(Boolean);
  if (!measured.length) return notMeasured(3);
  const short = measured.filter((x) => x.r < FLOOR_GOAL);
  const list = (xs) =>
    xs.map((x) => `${x.name} ${x.w}w ${fmtRatio(x.r)} (CPU/req ${fmtRatio(x.cpu)})`).join('; ');
  return {
    id: 3,
    target: TITLES[3],
    measured: short.length
      ? `below: ${list(short)}`
      : `lowest ${fmtRatio(Math.min(...measured.map((x) => x.r)))}; ${list(measured)}`,
    met: short.length === 0,
  };
}

/** Target 4: login limited by the password hash; logins per second per core reported. */
function loginPerCore(results) {
  const login = loginCost(results, 1);
  if (!login) return undefined;
  return {
    id: 4,
    target:
      'login limited by the password hash; logins/s per core for argon2id with the production parameters',
    measured: `${fmtRate(login.argonPerCore)} logins/s per core (${fmtRate(login.argonRate)} logins/s on ${fmtRate(login.argonRate / login.argonPerCore)} cores, one worker); ${results.argon2Parameters ?? 'argon2id'} alone: ${argon2PerCoreOf(results) ?? '?'} verifications/s per core; server CPU per login ${login.argonMs.toFixed(1)} ms with argon2id vs ${login.plainMs.toFixed(1)} ms with plain text: the hash is ${Math.round(login.hashShare * 100)}% of a login's CPU`,
    met: login.hashShare >= 0.5,
  };
}

/** The targets of issue 17 (1–6) and the earlier ones still tracked, as rows for the report. */
export function evaluateTargets(results, scenarios) {
  const out = [providerCost(results), awsPollCost(results), floorRatio(results), loginPerCore(results)];
  out.push({
    id: 5,
    target: 'endurance and faults (soak: 10 min mixed traffic, Redis and instance restarts)',
    measured: 'a run of its own (not part of this one): see the Soak section',
    met: undefined,
  });
  const tokens = find(results, 'token-client-credentials', 'gatehouse', 1);
  out.push({
    id: 6,
    target:
      'capacity planning: requests/s per core and Redis commands per request, sizing for 1k–100k token requests/s',
    measured: tokens?.cpu
      ? 'see Capacity planning (generated from this run)'
      : 'not measured in this run (needs the token scenarios, one worker)',
    met: tokens?.cpu ? true : undefined,
  });
  if (results.options.workers.includes(1) && results.options.workers.includes(2)) {
    const scaling = scenarios
      .map((s) => {
        const one = find(results, s.name, gatehouseTarget(s), 1);
        const two = find(results, s.name, gatehouseTarget(s), 2);
        return one && two ? { name: s.name, x: two.rate / one.rate } : undefined;
      })
      .filter(Boolean);
    const short = scaling.filter((x) => x.x < 1.8);
    out.push({
      id: 'issue 8',
      target: 'two workers ≥ 1.8× one',
      measured: short.length
        ? `${scaling.length - short.length} of ${scaling.length} scenarios; below: ${short.map((x) => `${x.name} ${fmtRatio(x.x)}`).join('; ')}`
        : `every scenario; lowest ${fmtRatio(Math.min(...scaling.map((x) => x.x)))}`,
      met: short.length === 0,
    });
  }
  const idle = results.memory.filter((m) => m.target === 'gatehouse' && m.phase === 'idle');
  if (idle.length) {
    const largest = Math.max(...idle.map((m) => m.largest));
    out.push({
      id: 'issue 8',
      target: 'idle RSS < 150 MB (each Gatehouse process)',
      measured: idle.map((m) => `${m.workers}w: ${mb(m.largest)}`).join('; '),
      met: largest < 150 * MB,
    });
  }
  return out.filter(Boolean);
}
