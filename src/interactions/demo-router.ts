import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { ClientConfig, Config } from '../config/schema.js';
import type { Views } from '../http/views.js';

const COOKIE = 'gatehouse.demo';

/**
 * A tiny relying party for the demo client, so `npm start` can be tried in a browser: `/demo`
 * starts a code flow with PKCE, `/demo/callback` redeems the code at /token, verifies the ID
 * token against /jwks and shows its claims. Mounted only while the demo client is configured.
 */
export function createDemoRouter(deps: { config: Config; views: Views; client: ClientConfig }): Router {
  const { config, views, client } = deps;
  const router = new Router({ prefix: '/demo' });
  const redirectUri = `${config.issuer}/demo/callback`;
  const jwks = createRemoteJWKSet(new URL(`${config.issuer}/jwks`));

  router.get('/', (ctx) => {
    const state = randomBytes(16).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    ctx.cookies.set(COOKIE, JSON.stringify({ state, nonce, verifier }), {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      maxAge: 10 * 60 * 1000,
      path: '/demo',
    });
    const url = new URL(`${config.issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      scope: 'openid profile email',
      redirect_uri: redirectUri,
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const saved = parse(ctx.cookies.get(COOKIE, { signed: true }));
    const q = ctx.query as Record<string, string | undefined>;
    const rows: [string, string][] = Object.entries(q).map(([k, v]) => [k, String(v)]);
    const show = (error: string | undefined, claims?: unknown, userinfo?: unknown) =>
      views.render(
        ctx,
        'demo-callback',
        {
          title: error ? 'Demo sign-in failed' : 'Signed in',
          error,
          rows,
          claims: claims ? JSON.stringify(claims, null, 2) : undefined,
          userinfo: userinfo ? JSON.stringify(userinfo, null, 2) : undefined,
          logoutUrl: `${config.issuer}/logout?client_id=${encodeURIComponent(client.client_id)}&post_logout_redirect_uri=${encodeURIComponent(`${config.issuer}/demo/logged-out`)}`,
          againUrl: '/demo',
        },
        error ? 400 : 200,
      );
    if (q.error) return show(`The provider answered ${q.error}: ${q.error_description ?? ''}`);
    if (!saved || saved.state !== q.state || !q.code)
      return show('The state does not match this browser; start again at /demo.');
    ctx.cookies.set(COOKIE, null, { path: '/demo' });

    const response = await fetch(`${config.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret ?? '')}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: q.code,
        redirect_uri: redirectUri,
        code_verifier: saved.verifier,
      }),
    });
    const tokens = (await response.json()) as {
      id_token?: string;
      access_token?: string;
      error?: string;
      error_description?: string;
    };
    if (!tokens.id_token)
      return show(
        `Token exchange failed: ${tokens.error ?? response.status} ${tokens.error_description ?? ''}`,
      );
    const { payload } = await jwtVerify(tokens.id_token, jwks, {
      issuer: config.issuer,
      audience: client.client_id,
    });
    if (payload.nonce !== saved.nonce) return show('The ID token nonce does not match.');
    const userinfo = await fetch(`${config.issuer}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token ?? ''}` },
    }).then((r) => r.json() as Promise<unknown>);
    return show(undefined, payload, userinfo);
  });

  router.get('/logged-out', (ctx) => {
    views.render(ctx, 'logout-success', { title: 'Signed out', clientName: client.client_name });
  });

  return router;
}

function parse(value: string | undefined): { state: string; nonce: string; verifier: string } | undefined {
  try {
    return value ? (JSON.parse(value) as { state: string; nonce: string; verifier: string }) : undefined;
  } catch {
    return undefined; // a tampered cookie fails the signature check first; anything else is just absent
  }
}
