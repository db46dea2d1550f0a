import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { tempConfigDir } from './support.js';

const SCRYPT = '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ItQDDEZ0s8hzsOiY7tR5nfPN9mqiWY6DsFocpC2SriQ';
const carol = (totp: unknown) => ({
  users: [{ username: 'carol', password: SCRYPT, totp, claims: { sub: 'carol-1' } }],
});

describe('users[].totp', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());
  const load = (content: unknown, env: Record<string, string> = {}) =>
    loadConfig({ env: { CONFIG_FILE: files.write(content), ...env } });

  it('takes a base32 secret, ignoring case and spaces', () => {
    const config = load(carol('gezd gnbv gy3t qojq gezd gnbv gy3t qojq'));
    expect(config.users[0]!.totp).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  it.each([
    ['not base32', 'GEZDGNBV!Y3TQOJQ'],
    ['digits 0, 1, 8 and 9', 'GEZDGNBV01890000'],
    ['shorter than 80 bits', 'GEZDGNBVGY3TQOJ'],
    ['a number', 123456],
    ['empty', ''],
  ])('refuses a secret that is %s, naming the key', (_why, totp) => {
    expect(() => load(carol(totp))).toThrow(ConfigError);
    expect(() => load(carol(totp))).toThrow(/users\.0\.totp/);
  });

  it('is refused in production like a plain-text password, with the same opt-in', () => {
    const env = {
      NODE_ENV: 'production',
      GATEHOUSE_ALLOW_INSECURE: 'memory-store,demo-accounts,http-issuer,open-metrics,default-cookie-keys',
    };
    const content = carol('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    let message = '';
    try {
      load(content, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'users.0.totp: TOTP secrets in the configuration file are refused in production, like plain-text passwords (enrol with "gatehouse-admin users enrol-totp", or GATEHOUSE_ALLOW_INSECURE=plain-passwords)',
    ]);
    const allowed = { ...env, GATEHOUSE_ALLOW_INSECURE: `${env.GATEHOUSE_ALLOW_INSECURE},plain-passwords` };
    expect(load(content, allowed).users[0]!.totp).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });
});

describe('the account page’s client id', () => {
  const files = tempConfigDir();
  afterAll(() => files.cleanup());

  it('is reserved: a configured client cannot take it', () => {
    const path = files.write({
      clients: [{ client_id: 'gatehouse-account', redirect_uris: ['https://evil.example/cb'] }],
    });
    expect(() => loadConfig({ env: { CONFIG_FILE: path } })).toThrow(
      'clients.0.client_id: "gatehouse-account" is reserved for the account page',
    );
  });
});
