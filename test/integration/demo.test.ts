import { startGatehouse, type RunningGatehouse } from '../../src/gatehouse.js';
import { UserAgent, readForm } from '../support/browserless.js';

describe('the demo relying party (npm start’s “try it” URL)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    // The shipped configuration, as `npm start` runs it.
    gh = await startGatehouse({ port: 0, host: '127.0.0.1', env: { LOG_LEVEL: 'silent' } });
  });
  afterAll(() => gh?.stop());

  it('signs the demo user in with PKCE and shows the verified ID token and userinfo', async () => {
    const ua = new UserAgent(gh.issuer);
    let page = await ua.follow(`${gh.issuer}/demo`);
    const login = readForm(await page.res.text());
    page = await ua.submit(new URL(login.action, page.url).href, {
      ...login.fields,
      username: 'demo',
      password: 'demo',
    });
    const consent = readForm(await page.res.text());
    page = await ua.submit(new URL(consent.action, page.url).href, consent.fields);
    expect(page.url).toMatch(new RegExp(`^${gh.issuer}/demo/callback\\?code=`));
    const html = await page.res.text();
    expect(page.res.status).toBe(200);
    expect(html).toContain('<h1 id="page-title">Signed in</h1>');
    expect(html).toContain('&quot;sub&quot;: &quot;demo-user-0001&quot;');
    expect(html).toContain('&quot;email&quot;: &quot;demo@example.com&quot;');
  });
});
