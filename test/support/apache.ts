import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULES = '/usr/lib/apache2/modules';

export interface ApacheServer {
  dir: string;
  /** The error log so far (mod_auth_openidc logs why it refused something there). */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * A private Apache (Debian's `apache2` with `libapache2-mod-auth-openidc`, which `.ci/run`
 * installs) for one test file: its own ServerRoot, PID file, logs and runtime directory in a
 * temporary directory, listening on the given loopback port. `directives` is appended to a
 * minimal configuration that loads mod_auth_openidc and the modules it needs.
 */
export async function startApache(port: number, directives: string): Promise<ApacheServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apache-'));
  // As root, Apache's workers run as www-data, which must read the documents and the runtime dir.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'htdocs', 'protected'), { recursive: true });
  writeFileSync(
    join(dir, 'htdocs', 'protected', 'secret.html'),
    '<!DOCTYPE html><title>secret</title><p>secret</p>',
  );
  writeFileSync(join(dir, 'htdocs', 'loggedout.html'), '<!DOCTYPE html><title>logged out</title><p>bye</p>');
  const root = process.getuid?.() === 0;
  const conf = [
    `ServerRoot ${dir}`,
    `PidFile ${dir}/httpd.pid`,
    `DefaultRuntimeDir ${dir}`,
    `ErrorLog ${dir}/error.log`,
    'LogLevel warn auth_openidc:debug',
    `Listen 127.0.0.1:${port}`,
    'ServerName 127.0.0.1',
    ...(root ? ['User www-data', 'Group www-data'] : []),
    `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
    `LoadModule authn_core_module ${MODULES}/mod_authn_core.so`,
    `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
    `LoadModule authz_user_module ${MODULES}/mod_authz_user.so`,
    `LoadModule mime_module ${MODULES}/mod_mime.so`,
    `LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so`,
    'TypesConfig /etc/mime.types',
    `DocumentRoot ${dir}/htdocs`,
    directives,
  ].join('\n');
  writeFileSync(join(dir, 'httpd.conf'), `${conf}\n`);

  const child: ChildProcess = spawn('/usr/sbin/apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch (err) {
      return `(no error log: ${(err as Error).message})`;
    }
  };

  // Ready when it answers HTTP; fail with its own words when it exits first.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`apache2 exited (${child.exitCode}): ${stderr}\n${errorLog()}`);
    try {
      await fetch(`http://127.0.0.1:${port}/loggedout.html`);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGTERM'); // ours, started above: not left running when the test fails
        throw new Error(`apache2 did not answer: ${(err as Error).message}\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return {
    dir,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
