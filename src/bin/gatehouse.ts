#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startGatehouse } from '../gatehouse.js';
import { ConfigError } from '../config/load-config.js';

const USAGE = `usage: gatehouse [--test] [--port N] [--host H] [--config FILE]

  --test         test-IdP mode: any username signs in, /_test API (refused in production)
  --port N       port to listen on (0 picks a free one; default: PORT or 3000)
  --host H       address to bind (default: 127.0.0.1 with --test, else all;
                 e.g. --host 0.0.0.0 for a test IdP in a container)
  --config FILE  configuration file merged over the defaults (same as CONFIG_FILE)

Prints the issuer on stdout once it is ready; logs go to stderr.`;

/** The `gatehouse` command (package.json "bin"). */
async function run() {
  const { values } = parseArgs({
    options: {
      test: { type: 'boolean', default: false },
      port: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write(`gatehouse: --port must be a port number\n${USAGE}\n`);
    process.exit(2);
  }
  const env = { ...process.env, ...(values.config ? { CONFIG_FILE: values.config } : {}) };
  try {
    const gatehouse = await startGatehouse({
      env,
      port,
      // A test IdP signs anyone in: reachable from this machine only, unless asked otherwise.
      host: values.host ?? (values.test ? '127.0.0.1' : undefined),
      mode: values.test ? 'test' : undefined,
      logToStderr: true,
    });
    process.stdout.write(`${gatehouse.issuer}\n`);
    const stop = () => void gatehouse.stop().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  } catch (err) {
    process.stderr.write(
      `gatehouse: ${err instanceof ConfigError ? 'configuration error\n' : ''}${(err as Error).message}\n`,
    );
    process.exit(1);
  }
}

void run();
