import * as client from 'openid-client';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { RESOURCE, startTestGatehouse, TEST_CLIENTS } from '../support/gatehouse.js';
import { discover } from '../support/rp-client.js';

const SERVICE = TEST_CLIENTS.service;
const WEB = TEST_CLIENTS.web;

describe('POST /token grant_type=client_credentials', () => {
  let gh: RunningGatehouse;
  let service: client.Configuration;
  beforeAll(async () => {
    gh = await startTestGatehouse();
    service = await discover(gh.issuer, SERVICE, client.ClientSecretBasic(SERVICE.client_secret));
  });
  afterAll(() => gh?.stop());

  it('is advertised in discovery', () => {
    expect(service.serverMetadata().grant_types_supported).toContain('client_credentials');
  });

  describe('with a scope', () => {
    it('issues a bearer token with that scope, no refresh token and no ID token', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:read' });
      expect(tokens).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 600, // ttl.clientCredentials
        scope: 'api:read',
      });
    });

    it('introspects as active for the client, with the scope and no subject', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:read api:write' });
      const introspected = await client.tokenIntrospection(service, tokens.access_token);
      expect(introspected).toEqual({
        active: true,
        client_id: SERVICE.client_id,
        scope: 'api:read api:write',
        token_type: 'Bearer',
        iss: gh.issuer,
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
      expect(introspected.exp! - introspected.iat!).toBe(600);
    });

    it('grants the known scopes of a request and says which (RFC 6749 §3.3)', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:read api:admin' });
      expect(tokens.scope).toBe('api:read');
    });

    it('refuses a scope the client is not registered for with invalid_scope', async () => {
      await expect(client.clientCredentialsGrant(service, { scope: 'openid' })).rejects.toMatchObject({
        error: 'invalid_scope',
        status: 400,
      });
    });
  });

  describe(`with resource=${RESOURCE} (RFC 8707)`, () => {
    it('issues a token whose introspection names the resource as audience', async () => {
      const tokens = await client.clientCredentialsGrant(service, {
        scope: 'api:read api:write',
        resource: RESOURCE,
      });
      expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 600, scope: 'api:read api:write' });
      expect(await client.tokenIntrospection(service, tokens.access_token)).toEqual({
        active: true,
        client_id: SERVICE.client_id,
        aud: RESOURCE,
        scope: 'api:read api:write',
        token_type: 'Bearer',
        iss: gh.issuer,
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
    });

    it('narrows the token to the scope asked for', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:write', resource: RESOURCE });
      expect(await client.tokenIntrospection(service, tokens.access_token)).toMatchObject({
        active: true,
        aud: RESOURCE,
        scope: 'api:write',
      });
    });

    it('refuses an unknown resource with invalid_target', async () => {
      await expect(
        client.clientCredentialsGrant(service, {
          scope: 'api:read',
          resource: 'https://unknown.example.com',
        }),
      ).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
    });
  });

  describe('the token', () => {
    it('is not accepted at /userinfo: it speaks for no user', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:read' });
      const res = await fetch(`${gh.issuer}/userinfo`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    });

    it('can be revoked, after which it introspects as inactive', async () => {
      const tokens = await client.clientCredentialsGrant(service, { scope: 'api:read', resource: RESOURCE });
      await client.tokenRevocation(service, tokens.access_token);
      expect(await client.tokenIntrospection(service, tokens.access_token)).toEqual({ active: false });
    });
  });

  describe('client authentication', () => {
    it('refuses a wrong secret with 401 invalid_client', async () => {
      const wrong = await discover(gh.issuer, SERVICE, client.ClientSecretBasic('wrong-secret'));
      await expect(client.clientCredentialsGrant(wrong, { scope: 'api:read' })).rejects.toMatchObject({
        status: 401,
        cause: [{ scheme: 'basic', parameters: expect.objectContaining({ error: 'invalid_client' }) }],
      });
    });

    it('refuses a client not registered for the grant with unauthorized_client (RFC 6749 §5.2)', async () => {
      const web = await discover(gh.issuer, WEB, client.ClientSecretBasic(WEB.client_secret));
      await expect(client.clientCredentialsGrant(web, { scope: 'openid' })).rejects.toMatchObject({
        error: 'unauthorized_client',
        status: 400,
      });
    });
  });
});
