import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

/** A relying party's back-channel logout endpoint: records every POSTed logout_token. */
export interface LogoutReceiver {
  /** `http://<host>:<port>/backchannel-logout` (host as given, default 127.0.0.1). */
  url: string;
  port: number;
  /** The logout tokens received so far, in order. */
  tokens: string[];
  /** Resolves with the `count`-th token once it has arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a receiver on a free port. `respond: 'hang'` never answers (a stuck relying party),
 * `'error'` answers 500; otherwise it answers 200 as Back-Channel Logout 1.0 §2.8 asks.
 */
export async function startLogoutReceiver(
  options: { listen?: string; host?: string; respond?: 'ok' | 'hang' | 'error' } = {},
): Promise<LogoutReceiver> {
  const tokens: string[] = [];
  const waiting = new Set<() => void>();
  const hanging = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const token = body.get('logout_token');
      if (
        req.method === 'POST' &&
        req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
        token
      ) {
        tokens.push(token);
        for (const wake of waiting) wake();
      }
      if (options.respond === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(options.respond === 'error' ? 500 : 200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, options.listen ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/backchannel-logout`,
    port,
    tokens,
    waitFor(count, timeoutMs = 5000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          if (tokens.length < count) return;
          waiting.delete(check);
          clearTimeout(timer);
          resolve(tokens[count - 1]!);
        };
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`logout token #${count} not received within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * Verifies a logout token as a relying party must (Back-Channel Logout 1.0 §2.6): signature
 * against the issuer's /jwks, `typ` logout+jwt, `iss`, `aud`, `iat`/`exp`; returns its header and claims.
 */
export async function verifyLogoutToken(
  issuer: string,
  token: string,
  clientId: string,
): Promise<{ payload: JWTPayload & Record<string, unknown>; protectedHeader: ProtectedHeaderParameters }> {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience: clientId,
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'exp', 'jti', 'events'],
  });
  return { payload: payload as JWTPayload & Record<string, unknown>, protectedHeader };
}
