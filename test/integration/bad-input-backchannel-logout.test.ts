import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { TEST_CLIENTS } from '../support/gatehouse.js';

/**
 * Malformed back-channel logout client metadata: always `400 invalid_client_metadata` (RFC 7591
 * §3.2.2) where a client is registered, a ConfigError naming the key where it is configured;
 * never a 5xx.
 */
describe('bad back-channel logout client metadata', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({
      mode: 'test',
      port: 0,
      host: '127.0.0.1',
      env: { LOG_LEVEL: 'silent' },
      overrides: { clients: [TEST_CLIENTS.web] },
    });
  });
  afterAll(() => gh?.stop());

  it.each([
    ['not a URL', { backchannel_logout_uri: 'not a url' }],
    ['a number', { backchannel_logout_uri: 42 }],
    ['an array', { backchannel_logout_uri: ['https://rp.example.com/logout'] }],
    ['a script URL', { backchannel_logout_uri: 'javascript:alert(1)' }],
    ['a data URL', { backchannel_logout_uri: 'data:text/plain,x' }],
    ['an empty string', { backchannel_logout_uri: '' }],
    ['a private address', { backchannel_logout_uri: 'http://172.16.0.1/logout' }],
    ['session_required as a string', { backchannel_logout_session_required: 'yes' }],
    ['session_required as a number', { backchannel_logout_session_required: 1 }],
  ])('/_test/clients with %s is 400 invalid_client_metadata', async (_name, metadata) => {
    const res = await fetch(`${gh.issuer}/_test/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://rp.example.com/cb'], ...metadata }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toMatch(/backchannel_logout/);
  });

  it('a configured client with a malformed backchannel_logout_uri stops start-up, naming the key', () => {
    const client = { ...TEST_CLIENTS.web, backchannel_logout_uri: 'not a url' };
    expect(() => loadConfig({ env: { NODE_ENV: 'test' }, overrides: { clients: [client] } })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ env: { NODE_ENV: 'test' }, overrides: { clients: [client] } })).toThrow(
      /clients\.0\.backchannel_logout_uri/,
    );
  });

  it('an out-of-range backchannelLogout.timeoutMs stops start-up, naming the key', () => {
    expect(() =>
      loadConfig({
        env: { NODE_ENV: 'test' },
        overrides: { backchannelLogout: { enabled: true, timeoutMs: 0, allowPrivateHosts: false } },
      }),
    ).toThrow(/backchannelLogout\.timeoutMs/);
  });
});
