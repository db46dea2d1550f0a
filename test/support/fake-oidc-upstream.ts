import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/** How the fake answers the token request; everything but `ok` must be refused by Gatehouse. */
export type FakeIdTokenMode = 'ok' | 'wrong-audience' | 'expired' | 'unsigned' | 'wrong-nonce' | 'wrong-key';

export interface FakeOidcUpstream {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What the next token responses carry. */
  mode: FakeIdTokenMode;
  /** Delay before answering the token request (to exceed Gatehouse's timeout). */
  tokenDelayMs: number;
  /** How often discovery and the JWKS were fetched. */
  fetches: { discovery: number; jwks: number };
  /** The ID tokens issued so far (the logs must never contain them). */
  issued: string[];
  close(): Promise<void>;
}

/**
 * A small OpenID provider for attack tests: discovery, JWKS, an authorization endpoint that
 * signs `sub` in at once, and a token endpoint whose ID token is broken on purpose as `mode` says.
 */
export async function startFakeOidcUpstream(sub = 'fake-user-1'): Promise<FakeOidcUpstream> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const nonces = new Map<string, string>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeOidcUpstream = {
    issuer,
    clientId: 'broker',
    clientSecret: 'fake-upstream-secret-0123456789',
    mode: 'ok',
    tokenDelayMs: 0,
    issued: [],
    fetches: { discovery: 0, jwks: 0 },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const sign = (claims: Record<string, unknown>, key: CryptoKey = privateKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(key);

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      fake.fetches.discovery += 1;
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') {
      fake.fetches.jwks += 1;
      return json(200, { keys: [jwk] });
    }
    if (url.pathname === '/authorize') {
      const code = randomBytes(16).toString('base64url');
      nonces.set(code, url.searchParams.get('nonce') ?? '');
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        void (async () => {
          if (fake.tokenDelayMs) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, fake.tokenDelayMs);
              timers.add(timer);
              res.on('close', () => {
                clearTimeout(timer);
                timers.delete(timer);
                resolve();
              });
            });
          }
          const code = new URLSearchParams(body).get('code') ?? '';
          const now = Math.floor(Date.now() / 1000);
          const claims: Record<string, unknown> = {
            iss: issuer,
            sub,
            aud: fake.mode === 'wrong-audience' ? 'someone-else' : fake.clientId,
            iat: fake.mode === 'expired' ? now - 7200 : now,
            exp: fake.mode === 'expired' ? now - 3600 : now + 300,
            nonce: fake.mode === 'wrong-nonce' ? 'not-the-nonce' : nonces.get(code),
            email: 'someone@fake.example',
            email_verified: true,
          };
          const idToken =
            fake.mode === 'unsigned'
              ? `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
              : await sign(claims, fake.mode === 'wrong-key' ? other.privateKey : privateKey);
          fake.issued.push(idToken);
          if (res.destroyed) return;
          json(200, { access_token: `at-${code}`, token_type: 'Bearer', expires_in: 300, id_token: idToken });
        })();
      });
      return;
    }
    json(404, { error: 'not_found' });
  });
  return fake;
}
