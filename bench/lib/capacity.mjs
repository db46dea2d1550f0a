// Capacity planning from a run (issue 17, target 6): per scenario, what one core of Gatehouse
// serves and what each request costs Redis, and from those a sizing table for token traffic.
import { find, fmtCpu, fmtRate, perCore, table, argon2PerCoreOf } from './figures.mjs';
import { FLOOR_SCENARIOS, PROVIDER_SCENARIOS } from './goals.mjs';

/** Plan each resource at this share of what it measured (headroom for bursts, GC and noise). */
const HEADROOM = 0.7;
/** Cores (and WORKERS) of one Gatehouse instance in the sizing table. */
const INSTANCE_CORES = 4;
const LOADS = [1_000, 10_000, 100_000];
const TOKEN_SCENARIOS = ['token-client-credentials', 'token-code-rs256', 'token-code-es256', 'token-refresh'];

const targetOf = (name) =>
  PROVIDER_SCENARIOS.includes(name)
    ? '1'
    : name === 'aws-create-token-poll'
      ? '2'
      : FLOOR_SCENARIOS.includes(name)
        ? '3'
        : name.startsWith('login')
          ? '4'
          : '';
const fmtCount = (n) =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`
    : n >= 1e3
      ? `${Math.round(n / 1e3)}k`
      : String(Math.round(n));

/** What one unit of work costs, from Gatehouse's one-worker run of a scenario. */
function costOf(run) {
  if (!run?.cpu || !run.rate) return undefined;
  const redisCpuPerUnit = run.cpu.redis / run.rate; // seconds of Redis CPU per unit
  return {
    perCore: perCore(run),
    commands: run.redisCommandsPerUnit,
    roundTrips: run.redisRoundTripsPerUnit,
    redisCpuUs: redisCpuPerUnit * 1e6,
    redisPerCore: redisCpuPerUnit > 0 ? 1 / redisCpuPerUnit : NaN,
  };
}

/** The capacity section: per-scenario costs, the sizing table and its assumptions. */
export function renderCapacity(results, scenarios) {
  const rows = scenarios
    .map((s) => {
      const name = s.name;
      const gh = name === 'login-plain' ? 'gatehouse-plain' : 'gatehouse';
      const cost = costOf(find(results, name, gh, 1));
      if (!cost) return undefined;
      const unit = s.unit ?? 'req/s';
      return [
        name,
        targetOf(name),
        `${fmtRate(cost.perCore)} ${unit}`,
        String(cost.commands ?? ''),
        String(cost.roundTrips ?? ''),
        fmtCpu(cost.redisCpuUs),
        cost.redisCpuUs > 0 ? fmtRate(cost.redisPerCore) : '',
      ];
    })
    .filter(Boolean);
  if (!rows.length) return undefined;
  const costs = TOKEN_SCENARIOS.map((name) => [name, costOf(find(results, name, 'gatehouse', 1))]).filter(
    ([, cost]) => cost,
  );
  const sizing = LOADS.flatMap((load) =>
    costs.map(([name, cost]) => {
      const cores = Math.ceil(load / (cost.perCore * HEADROOM));
      const redisCores = (load * cost.redisCpuUs) / 1e6 / HEADROOM;
      const shards = Math.max(1, Math.ceil(redisCores));
      return [
        `${fmtCount(load)}/s`,
        name,
        String(cores),
        String(Math.ceil(cores / INSTANCE_CORES)),
        fmtCount(load * cost.commands),
        redisCores.toFixed(2),
        shards === 1 ? 'one server' : `Cluster, ${shards} shards`,
      ];
    }),
  );
  const m = results.machine;
  return [
    `#### Capacity planning\n\nFrom the one-worker runs above: what one core of Gatehouse serves (rate over the cores the server used: its main thread, garbage collection and libuv threads together), what each unit costs Redis (commands, round trips where measured, and Redis CPU), and how many units one Redis core would serve at that cost. "Target" is the issue 17 target the scenario belongs to.\n\n${table(
      [
        'Scenario',
        'Target',
        'Per core',
        'Redis cmds/unit',
        'Redis round trips/unit',
        'Redis CPU µs/unit',
        'Units/s per Redis core',
      ],
      rows,
    )}`,
    `Sizing for token requests per second, one grant type at a time (a mix costs the weighted sum of its parts):\n\n${table(
      [
        'Token requests',
        'Grant (scenario)',
        'Gatehouse cores (at 70 %)',
        `Instances of ${INSTANCE_CORES} cores`,
        'Redis commands/s',
        'Redis cores (at 70 %)',
        'Redis',
      ],
      sizing,
    )}`,
    [
      'Assumptions: Gatehouse and Redis are each planned at ' +
        `${Math.round(HEADROOM * 100)} % of what they did here (headroom for bursts, garbage collection and noise);`,
      `an instance is ${INSTANCE_CORES} cores running \`WORKERS=${INSTANCE_CORES}\` (one worker per core; per-core rates scale`,
      'with cores when the load comes from elsewhere, which this machine cannot show); Redis executes commands on one',
      'thread, so one Redis server is about one core of the "Redis CPU" column, and more than one core needs Redis',
      `Cluster shards. Measured on ${m.cores} × ${m.cpu}, loopback, no TLS: TLS to clients and to Redis, and a network`,
      'between them, add CPU and latency (not commands). Sign-ins are sized apart: argon2id costs',
      `${results.argon2CpuMs ?? '?'} ms of CPU per verification (${argon2PerCoreOf(results) ?? '?'} per core per second).`,
    ].join('\n'),
    [
      '**Many instances on Redis Cluster.** Gatehouse uses no hash tags: every key (`<Model>:<id>`, `grant:<id>`,',
      '`rec:<key>`, rate-limit counters) hashes to its own slot and every command touches one key, so load spreads',
      'over the shards by key and no command can fail with `CROSSSLOT` (layout at the top of',
      '`src/storage/redis-store.ts`; `src/storage/cluster-slot.ts` finds the shard master a consume waits on).',
      'Commands per request stay as in the table whatever the number of shards; a save whose keys fall on different',
      'shards is sent as separate commands rather than one transaction. Single-use consumes wait for a replica of',
      "their key's shard (`consumeAckReplicas`, on by default on Cluster), one replica round trip each. Instances",
      'share nothing but Redis and the configuration, so they scale out behind any load balancer.',
    ].join('\n'),
  ].join('\n\n');
}
