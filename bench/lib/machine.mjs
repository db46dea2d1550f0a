// What the bench ran on (reported with every result) and the machine's own argon2id rate.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { verify as argon2Verify } from '@node-rs/argon2';
import { PASSWORD } from './setup.mjs';

/**
 * argon2id verifications per second on this machine with every core busy (the ceiling for
 * sign-ins), the CPU one verification takes, and from it the verifications one core does per
 * second (`perCore`: 1000 / cpuMs, the figure to size by), with the hash's own parameters.
 */
export async function argon2Rate(hash, seconds) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await argon2Verify(hash, PASSWORD);
      done += 1;
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: availableParallelism() * 2 }, worker));
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / done;
  return {
    perSecond: Math.round((done / ((performance.now() - started) / 1000)) * 10) / 10,
    cpuMs: Math.round(cpuMs * 10) / 10,
    perCore: Math.round((1000 / cpuMs) * 10) / 10,
    // The parameters as the hash carries them ($argon2id$v=19$m=19456,t=2,p=1$…).
    parameters: /\$(argon2id)\$v=\d+\$(m=\d+,t=\d+,p=\d+)\$/.exec(hash)?.slice(1).join(' ') ?? 'unknown',
  };
}

/** The machine, the versions of everything measured, and the commit of the checkout at `root`. */
export function machineInfo(root) {
  const version = (cmd, argv) => {
    try {
      return execFileSync(cmd, argv, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const pkg = (name) =>
    JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: version('redis-server', ['--version']).replace(/^Redis server /, ''),
    oidcProvider: pkg('oidc-provider'),
    oauth2MockServer: pkg('oauth2-mock-server'),
    autocannon: pkg('autocannon'),
    commit: version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    dirty: version('git', ['-C', root, 'status', '--porcelain', '--', 'src']) !== '',
  };
}
