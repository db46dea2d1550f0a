// What the bench ran on (reported with every result) and the machine's own argon2id rate.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { verify as argon2Verify } from '@node-rs/argon2';
import { PASSWORD } from './setup.mjs';

/**
 * argon2id verifications per second on this machine with every core busy (the ceiling for
 * sign-ins), and the CPU one verification takes.
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
  return {
    perSecond: Math.round((done / ((performance.now() - started) / 1000)) * 10) / 10,
    cpuMs: Math.round(((used.user + used.system) / 1000 / done) * 10) / 10,
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
