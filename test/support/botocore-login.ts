import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { approveDevice } from './flows.js';

const LOGIN_SCRIPT = fileURLToPath(new URL('./botocore_sso_login.py', import.meta.url));

export interface LoginReport {
  token?: Record<string, unknown>;
  failed?: string;
  polls: { at: number; outcome: string; requestId: string | null }[];
}

/**
 * Runs the AWS CLI v2's own device-flow login loop (botocore's SSOTokenFetcher, vendored in
 * Debian's awscli package, run by /usr/bin/python3) against `endpoint`, approving on the pages as
 * alice when it asks for the user, and returns what it reported. `scopes`: the registration
 * scopes of an sso-session, or null for a legacy profile.
 */
export function loginWithCliLoop(
  endpoint: string,
  issuer: string,
  scopes: string[] | null,
): Promise<LoginReport> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [LOGIN_SCRIPT, endpoint, JSON.stringify(scopes)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let report: LoginReport | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { pending?: string } & LoginReport;
      if (message.pending) {
        approveDevice(issuer, message.pending).catch(reject);
      } else {
        report = message;
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`the login loop ended without a report: ${stderr}`));
    });
  });
}
