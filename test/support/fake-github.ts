import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGithubUser {
  id: number;
  login: string;
  name: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
  teams: { org: string; slug: string }[];
}

export interface FakeGithub {
  /** The baseUrl to configure (GitHub Enterprise Server style: the API under /api/v3). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Who the authorization endpoint signs in next (GitHub's own page is not imitated). */
  user: FakeGithubUser;
  /** Access tokens issued (the logs must never contain them). */
  issued: string[];
  close(): Promise<void>;
}

/**
 * A small local fake of GitHub's OAuth and REST endpoints: /login/oauth/authorize (signs `user`
 * in at once), /login/oauth/access_token (checks the client secret, the redirect_uri and the PKCE
 * verifier), and /api/v3/user, /user/emails, /user/teams.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const codes = new Map<string, { challenge: string; redirectUri: string; user: FakeGithubUser }>();
  const tokens = new Map<string, FakeGithubUser>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeGithub = {
    baseUrl,
    clientId: 'Iv1.fakeclient',
    clientSecret: 'fake-github-secret-0123456789',
    user: { id: 1001, login: 'octocat', name: 'Mona Octocat', emails: [], teams: [] },
    issued: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/login/oauth/authorize') {
      const code = randomBytes(12).toString('hex');
      const redirectUri = url.searchParams.get('redirect_uri')!;
      codes.set(code, {
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri,
        user: structuredClone(fake.user),
      });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const ok =
          grant &&
          form.get('client_id') === fake.clientId &&
          form.get('client_secret') === fake.clientSecret &&
          form.get('redirect_uri') === grant.redirectUri &&
          createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
        // GitHub answers 200 with an error member; openid-client reports it as an error response.
        if (!ok) return json(200, { error: 'bad_verification_code' });
        const token = `gho_${randomBytes(16).toString('hex')}`;
        tokens.set(token, grant.user);
        fake.issued.push(token);
        json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (url.pathname.startsWith('/api/v3/') && !user) return json(401, { message: 'Bad credentials' });
    if (url.pathname === '/api/v3/user') {
      return json(200, {
        id: user!.id,
        login: user!.login,
        name: user!.name,
        avatar_url: `${baseUrl}/avatars/${user!.id}`,
        html_url: `${baseUrl}/${user!.login}`,
      });
    }
    if (url.pathname === '/api/v3/user/emails') return json(200, user!.emails);
    if (url.pathname === '/api/v3/user/teams') {
      return json(
        200,
        user!.teams.map((t) => ({ slug: t.slug, organization: { login: t.org } })),
      );
    }
    json(404, { message: 'Not Found' });
  });
  return fake;
}
