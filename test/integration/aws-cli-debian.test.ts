import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { FAST_DEVICE_FLOW, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { approveDeviceInBrowser, launchBrowser, newContext } from '../support/browser.js';
import { postAsClient, userinfo } from '../support/grant-requests.js';

/**
 * Debian's `awscli` package (AWS CLI v2.9.19): `aws` on PATH may be another CLI (a pip-installed
 * v1, a newer v2), so the test runs this one by its path. `.ci/run` installs the package.
 */
const AWS = '/usr/bin/aws';
const README = new URL('../../README.md', import.meta.url);
const START_URL = 'https://d-0000000000.awsapps.com/start';

const cliInstalled = existsSync(AWS);
if (!cliInstalled) {
  // The only reason this suite may skip; .ci/run installs the package, so CI never does.
  console.warn(
    `aws-cli-debian: ${AWS} is missing (apt-get install awscli); the AWS CLI recipe is NOT tested`,
  );
}

/**
 * The README's shell block for older CLIs: the script that writes the endpoint rule set overrides
 * (with the issuer put in), and the arguments of the `/usr/bin/aws` commands that follow it.
 */
function readmeOldCliRecipe(issuer: string): { script: string; login: string[]; logout: string[] } {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes('endpoint-rule-set-1.json'));
  if (!block) throw new Error('README: no sh block writing endpoint-rule-set-1.json');
  const [script, ...rest] = block.split(/^(?=\/usr\/bin\/aws )/m);
  if (!/^GATEHOUSE=/m.test(script!)) throw new Error('README: the override block sets no GATEHOUSE=');
  const commands = rest.map((line) => line.replace(/#.*$/s, '').trim().split(/\s+/).slice(1));
  const login = commands.find((c) => c[0] === 'sso' && c[1] === 'login');
  const logout = commands.find((c) => c[0] === 'sso' && c[1] === 'logout');
  if (!login || !logout) throw new Error('README: the override block has no aws sso login and logout');
  return { script: script!.replace(/^GATEHOUSE=.*$/m, `GATEHOUSE=${issuer}`), login, logout };
}

/** The README's ~/.aws/config for the sso-session profile. */
function readmeConfig(): string {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const config = blocks.find((b) => b.includes('[sso-session gatehouse]'));
  if (!config) throw new Error('README: no ini block with [sso-session gatehouse]');
  return config;
}

interface Run {
  output(): string;
  exited: Promise<number | null>;
}

/** CLI processes still running, ended in afterAll (a login waiting for approval never ends by itself). */
const running = new Set<ChildProcess>();

/** Runs the CLI in a clean environment: its own HOME, no AWS_* variables of the machine's. */
function runCli(home: string, args: string[]): Run {
  const child = spawn(AWS, args, {
    env: { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', AWS_PAGER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { output: () => output, exited };
}

async function waitForOutput(run: Run, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(run.output());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the CLI's output:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)),
    ),
  ]);
}

(cliInstalled ? describe : describe.skip)(
  'the README recipe with Debian’s AWS CLI v2.9.19 (/usr/bin/aws)',
  () => {
    let gh: RunningGatehouse;
    let browser: Browser;
    let context: BrowserContext;
    let home: string;
    let recipe: ReturnType<typeof readmeOldCliRecipe>;
    beforeAll(async () => {
      gh = await startTestGatehouse({ overrides: { deviceFlow: FAST_DEVICE_FLOW } });
      browser = await launchBrowser();
      context = await newContext(browser);
      home = mkdtempSync(join(tmpdir(), 'gatehouse-awscli-'));
      mkdirSync(join(home, '.aws'));
      writeFileSync(join(home, '.aws', 'config'), readmeConfig());
      recipe = readmeOldCliRecipe(gh.issuer);
      const script = spawn('bash', ['-euc', recipe.script], {
        env: { HOME: home, PATH: '/usr/bin:/bin' },
        stdio: 'inherit',
      });
      const code = await new Promise<number | null>((resolve) => script.on('close', resolve));
      if (code !== 0) throw new Error(`the README's override script failed (${code})`);
    });
    afterAll(async () => {
      for (const child of running) child.kill('SIGKILL');
      await context?.close();
      await browser?.close();
      await gh?.stop();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    const introspect = async (token: string) =>
      (await postAsClient(gh.issuer, '/introspect', TEST_CLIENTS.service, { token })).body;

    it('aws sso login --no-browser: device flow approved in the browser, token cached; aws sso logout revokes it at Gatehouse', async () => {
      expect(recipe.login).toEqual(['sso', 'login', '--profile', 'gatehouse', '--no-browser']);
      const login = runCli(home, recipe.login);
      const shown = await waitForOutput(
        login,
        /Please visit the following URL:\s+(\S+)\s+Then enter the code:\s+(\S+)\s+Alternatively, you may visit the following URL which will autofill the code upon loading:\s+(\S+)/,
        20_000,
      );
      const [, verificationUri, userCode, verificationUriComplete] = shown;
      expect(verificationUri).toBe(`${gh.issuer}/device`);
      expect(new URL(verificationUriComplete!).searchParams.get('user_code')).toBe(userCode);

      const page = await context.newPage();
      expect(await approveDeviceInBrowser(page, verificationUriComplete!)).toBe('Device connected');
      await page.close();

      expect(await within(login.exited, 40_000, 'aws sso login')).toBe(0);
      expect(login.output()).toContain(`Successfully logged into Start URL: ${START_URL}`);

      // botocore's token cache: named by the SHA-1 of the sso-session's name (SSOTokenFetcher).
      const cacheDir = join(home, '.aws', 'sso', 'cache');
      const tokenFile = join(cacheDir, `${createHash('sha1').update('gatehouse').digest('hex')}.json`);
      const cached = JSON.parse(readFileSync(tokenFile, 'utf8')) as Record<string, string>;
      expect(cached).toMatchObject({
        startUrl: START_URL,
        region: 'us-east-1',
        accessToken: expect.any(String),
        refreshToken: expect.any(String), // the session registered scopes (sso_registration_scopes)
        clientId: expect.any(String),
        clientSecret: expect.any(String),
      });
      expect(cached.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(cached.expiresAt!)).toBeGreaterThan(Date.now());
      // Scope sso:account:access only (no openid): /userinfo refuses it (403), introspection knows it.
      expect(await introspect(cached.accessToken!)).toMatchObject({
        active: true,
        sub: 'alice-0001',
        client_id: cached.clientId,
        scope: 'sso:account:access',
      });
      expect(await introspect(cached.refreshToken!)).toMatchObject({ active: true });

      // aws sso logout calls the portal's Logout (the sso model's override points it at /aws/portal),
      // then deletes the cached token. The CLI ignores Logout's errors, so Gatehouse's state is the proof.
      const logout = runCli(home, recipe.logout);
      expect(await within(logout.exited, 30_000, 'aws sso logout')).toBe(0);
      expect(existsSync(tokenFile)).toBe(false);
      for (const name of readdirSync(cacheDir)) {
        expect(JSON.parse(readFileSync(join(cacheDir, name), 'utf8'))).not.toHaveProperty('accessToken');
      }
      expect((await userinfo(gh.issuer, cached.accessToken!)).status).toBe(401);
      expect(await introspect(cached.accessToken!)).toEqual({ active: false });
      expect(await introspect(cached.refreshToken!)).toEqual({ active: false });
    }, 120_000);
  },
);
