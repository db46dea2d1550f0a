import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse } from '../support/gatehouse.js';

describe('unknown routes', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(() => gh?.stop());

  it('answer 404 in the OAuth error shape, or the error page for browsers', async () => {
    const api = await fetch(`${gh.issuer}/no/such/thing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({
      error: 'invalid_request',
      error_description: 'unrecognized route: GET /no/such/thing',
    });
    const page = await fetch(`${gh.issuer}/no/such/thing`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('There is nothing at this address.');
  });
});
