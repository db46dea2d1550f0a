import { runAdmin } from '../support/admin-command.js';
import { createHash, randomBytes } from 'node:crypto';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent, signIn } from '../support/browserless.js';
import { redeemCode } from '../support/flows.js';
import { totpCode } from '../support/totp.js';
import { createPasskeys } from '../../src/mfa/passkeys.js';
import { createAccountStore } from '../../src/accounts/account-store.js';
import { createStoredAccountStore } from '../../src/accounts/stored-accounts.js';

const WEB = TEST_CLIENTS.web;
const DANA = { username: 'dana', password: 'dana-passw0rd-long' };

describe('gatehouse-admin users enrol-totp, recovery-codes and reset-mfa', () => {
  let redis: RedisServer;
  let gh: RunningGatehouse;
  beforeAll(async () => {
    redis = await startRedisServer();
    gh = await startTestGatehouse({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await gh?.stop();
    await redis?.destroy();
  });

  const admin = (args: string[], input = '') => runAdmin(redis.url, args, input);

  /** Signs dana in; `otp` answers the code page (undefined: the page must not come). Returns the ID token's amr. */
  async function signInDana(otp?: () => string) {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${gh.issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: WEB.client_id,
      response_type: 'code',
      redirect_uri: WEB.redirect_uris[0],
      scope: 'openid',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    let asked = 0;
    const callback = await signIn(new UserAgent(gh.issuer), url.href, DANA, {
      otp: () => {
        asked += 1;
        if (!otp) throw new Error('asked for a code');
        return otp();
      },
    });
    const tokens = await redeemCode(gh.issuer, callback.searchParams.get('code')!, verifier);
    const idToken = JSON.parse(Buffer.from(tokens.body.id_token!.split('.')[1]!, 'base64url').toString());
    return { amr: idToken.amr as string[], asked };
  }

  it('enrols an app, hands out recovery codes once, and resets; the server follows each step', async () => {
    expect((await admin(['users', 'add', 'dana'], DANA.password)).code).toBe(0);
    expect(await signInDana()).toEqual({ amr: ['pwd'], asked: 0 });

    const enrolled = await admin(['users', 'enrol-totp', 'dana']);
    expect(enrolled.code).toBe(0);
    const secret = /^secret: ([A-Z2-7]{32})$/m.exec(enrolled.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(enrolled.stdout).toMatch(/^uri: otpauth:\/\/totp\/[^?]*dana\?/m);
    expect(enrolled.stdout).toContain(`secret=${secret}`);
    const audit = JSON.parse(enrolled.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(audit).toMatchObject({
      audit: true,
      event: 'mfa.totp_enrolled',
      username: 'dana',
      tool: 'gatehouse-admin',
    });
    expect(audit.time).toEqual(expect.any(Number));
    expect(enrolled.stderr).not.toContain(secret!);
    expect(await signInDana(() => totpCode(secret!, Date.now(), -1))).toEqual({
      amr: ['pwd', 'otp', 'mfa'],
      asked: 1,
    });

    const recovery = await admin(['users', 'recovery-codes', 'dana']);
    expect(recovery.code).toBe(0);
    const codes = recovery.stdout.match(/^[a-z2-9]{5}-[a-z2-9]{5}$/gm) ?? [];
    expect(codes).toHaveLength(10);
    expect(recovery.stderr).toContain('"event":"mfa.recovery_codes_replaced"');
    for (const code of codes) expect(recovery.stderr).not.toContain(code);
    expect(await signInDana(() => codes[0]!)).toEqual({ amr: ['pwd', 'otp', 'mfa'], asked: 1 });

    const reset = await admin(['users', 'reset-mfa', 'dana']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('removed the second factors');
    expect(reset.stderr).toContain('"event":"mfa.reset"');
    expect(await signInDana()).toEqual({ amr: ['pwd'], asked: 0 });
  });

  it('reset-mfa removes the passkeys too (and their credential index)', async () => {
    const passkeys = createPasskeys(gh.store);
    // dana, added by the admin command above (the admin command reads the store, not the test's users).
    const dana = await createStoredAccountStore(createAccountStore([]), gh.store).findByUsername('dana');
    const sub = dana!.claims.sub;
    const passkey = (id: string) => ({
      id,
      publicKey: 'pQECAyYgASFYIA',
      counter: 0,
      backupEligible: false,
      backedUp: false,
      name: id,
      createdAt: Date.now(),
    });
    expect(await passkeys.add(sub, passkey('cred-one'))).toBe(true);
    expect(await passkeys.add(sub, passkey('cred-two'))).toBe(true);
    expect(await passkeys.findByCredential('cred-one')).toMatchObject({ sub });
    const reset = await admin(['users', 'reset-mfa', 'dana']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('passkeys (2)');
    expect(reset.stderr).toContain('"passkeysRemoved":2');
    expect(await passkeys.list(sub)).toEqual([]);
    expect(await passkeys.findByCredential('cred-one')).toBeUndefined();
    expect(await gh.store.getRecord('passkey-credential:cred-two')).toBeUndefined();
  });

  it('answers an unknown user or a missing name with a usage error', async () => {
    expect(await admin(['users', 'reset-mfa', 'nobody'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no user nobody'),
    });
    expect(await admin(['users', 'enrol-totp'])).toMatchObject({ code: 2 });
  });
});
