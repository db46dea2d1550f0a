// Shared by the report's parts: finding a run in the results, the cost figures derived from it,
// and how numbers are written.
export const MB = 2 ** 20;

export const fmtRate = (n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
export const fmtMs = (n) => (n === undefined ? '' : n >= 10 ? String(Math.round(n)) : n.toFixed(1));
export const fmtRatio = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '—');
export const mb = (bytes) => `${Math.round(bytes / MB)} MB`;
export const fmtCpu = (n) => (Number.isFinite(n) ? (n >= 100 ? String(Math.round(n)) : n.toFixed(1)) : '');

/** CPU the server spent per unit of work: µs per request, ms per login. */
export const cpuPerUnit = (run) =>
  run.rate ? (run.cpu.server / run.rate) * (run.unit === 'req/s' ? 1e6 : 1e3) : NaN;

/** Units of work per second per core the server used (rate over the server's cores). */
export const perCore = (run) => (run?.rate && run.cpu?.server ? run.rate / run.cpu.server : NaN);

export const find = (results, scenario, target, workers) =>
  results.runs.find((r) => r.scenario === scenario && r.target === target && r.workers === workers);

/** Gatehouse's run for a scenario: the plain-password instance for the plain-password login. */
export const gatehouseTarget = (scenario) =>
  scenario.targets.includes('gatehouse') ? 'gatehouse' : 'gatehouse-plain';

export function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Server CPU per login with argon2id and with plain text; the difference is the hash. */
export function loginCost(results, workers) {
  const argon = find(results, 'login-argon2id', 'gatehouse', workers);
  const plain = find(results, 'login-plain', 'gatehouse-plain', workers);
  if (!argon?.cpu || !plain?.cpu || !argon.rate || !plain.rate) return undefined;
  const argonMs = cpuPerUnit(argon);
  const plainMs = cpuPerUnit(plain);
  return {
    argonRate: argon.rate,
    plainRate: plain.rate,
    argonMs,
    plainMs,
    argonPerCore: perCore(argon),
    hashShare: Math.max(0, (argonMs - plainMs) / argonMs),
  };
}

/** argon2id verifications per CPU-second (older results carry only the CPU per verification). */
export const argon2PerCoreOf = (results) =>
  results.argon2PerCore ??
  (results.argon2CpuMs ? Math.round((1000 / results.argon2CpuMs) * 10) / 10 : undefined);
