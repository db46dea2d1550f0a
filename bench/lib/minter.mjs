// The minting helper (bench/mint.mjs, a child process) and a promise-based call into it: codes,
// tokens and pending device codes made through each provider's own models before a measurement.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Starts bench/mint.mjs under `root` with `env`; resolves once it reports the signing keys. */
export async function startMinter(root, env) {
  const child = fork(join(root, 'bench', 'mint.mjs'), [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 0;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the minting helper exited (${code})`)));
    child.on('message', (message) => {
      if (message.ready) return resolve(message.jwks);
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) call?.reject(new Error(message.error));
      else call?.resolve(message.values);
    });
  });
  const jwks = await ready;
  return {
    jwks,
    mint(target, kind, clientId, count) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, op: 'mint', target, kind, clientId, count });
      });
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ op: 'stop' });
      await Promise.race([exited, sleep(5000)]);
      child.kill('SIGKILL');
    },
  };
}
