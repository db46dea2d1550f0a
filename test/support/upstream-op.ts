import { exportJWK, generateKeyPair } from 'jose';
import type { RunningGatehouse } from '../../src/gatehouse.js';
import { startTestGatehouse, TEST_CLIENTS, TEST_USERS } from './gatehouse.js';
import { freePort } from './redis-server.js';
import { readButtons, readForm, signIn, UserAgent } from './browserless.js';

/** People known only to the upstream Gatehouse. */
export const UPSTREAM_USERS = {
  carol: {
    username: 'carol',
    password: 'carol-upstream-password',
    claims: {
      sub: 'carol-up-1',
      email: 'carol@corp.example',
      email_verified: true,
      name: 'Carol Upstream',
      groups: ['engineering', 'admins'],
    },
  },
  /** The same email as the broker's alice, verified upstream: the candidate for linkByEmail. */
  alice: {
    username: 'alice-up',
    password: 'alice-upstream-password',
    claims: { sub: 'alice-up-1', email: 'alice@example.com', email_verified: true, name: 'Alice Upstream' },
  },
  /** The same email as the broker's bob, NOT verified upstream: never linked. */
  bob: {
    username: 'bob-up',
    password: 'bob-upstream-password',
    claims: { sub: 'bob-up-1', email: 'bob@example.com', email_verified: false, name: 'Bob Upstream' },
  },
} as const;

export const BROKER_CLIENT_SECRET = 'gatehouse-broker-secret-0123456789';

export interface UpstreamPair {
  /** The Gatehouse under test (the broker), at http://localhost:<port>. */
  broker: RunningGatehouse;
  /** A second Gatehouse with its own users, acting as the upstream OP, at http://127.0.0.1:<port>. */
  upstream: RunningGatehouse;
  stop(): Promise<void>;
}

/**
 * Starts an upstream Gatehouse and a broker Gatehouse whose `upstreams` name it (`corp`, and
 * `corp-link` with linkByEmail). The two use different host names so a browser keeps their
 * cookies apart (cookies ignore ports).
 */
export async function startUpstreamPair(
  options: {
    brokerEnv?: Record<string, string>;
    brokerOverrides?: Record<string, unknown>;
    upstreamExtra?: Record<string, unknown>;
  } = {},
): Promise<UpstreamPair> {
  const [brokerPort, upstreamPort] = [await freePort(), await freePort()];
  const brokerIssuer = `http://localhost:${brokerPort}`;
  const upstreamIssuer = `http://127.0.0.1:${upstreamPort}`;
  // The broker authenticates to the upstream with private_key_jwt as upstream "corp-jwt".
  const keys = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'broker-1', alg: 'ES256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(keys.privateKey)), kid: 'broker-1', alg: 'ES256' };
  const upstream = await startTestGatehouse({
    port: upstreamPort,
    env: { ISSUER: upstreamIssuer },
    overrides: {
      users: Object.values(UPSTREAM_USERS),
      scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
      claims: {
        openid: ['sub'],
        profile: ['name'],
        email: ['email', 'email_verified'],
        groups: ['groups'],
      },
      clients: [
        {
          client_id: 'gatehouse-broker',
          client_secret: BROKER_CLIENT_SECRET,
          client_name: 'Gatehouse broker',
          redirect_uris: ['corp', 'corp-link'].map((id) => `${brokerIssuer}/upstream/${id}/callback`),
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: 'openid profile email groups',
        },
        {
          client_id: 'gatehouse-broker-jwt',
          redirect_uris: [`${brokerIssuer}/upstream/corp-jwt/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'ES256',
          jwks: { keys: [publicJwk] },
          scope: 'openid profile email',
        },
      ],
    },
  });
  const common = {
    type: 'oidc',
    issuer: upstreamIssuer,
    clientId: 'gatehouse-broker',
    clientSecret: BROKER_CLIENT_SECRET,
    scopes: ['openid', 'email', 'profile', 'groups'],
    ...options.upstreamExtra,
  };
  let broker: RunningGatehouse;
  try {
    broker = await startTestGatehouse({
      port: brokerPort,
      env: { ...options.brokerEnv },
      overrides: {
        upstreams: [
          { ...common, id: 'corp', name: 'Corp', domains: ['corp.example'], groupsClaim: 'groups' },
          { ...common, id: 'corp-link', name: 'Corp (linked)', linkByEmail: true },
          {
            ...common,
            id: 'corp-jwt',
            name: 'Corp (key)',
            clientId: 'gatehouse-broker-jwt',
            clientSecret: undefined,
            privateKeyJwk: privateJwk,
            scopes: ['openid', 'email', 'profile'],
          },
        ],
        // The web app may ask for the groups scope here.
        clients: Object.values(TEST_CLIENTS).map((c) =>
          c.client_id === TEST_CLIENTS.web.client_id ? { ...c, scope: `${c.scope} groups` } : c,
        ),
        ...options.brokerOverrides,
      },
    });
  } catch (err) {
    await upstream.stop();
    throw err;
  }
  return {
    broker,
    upstream,
    async stop() {
      await broker.stop();
      await upstream.stop();
    },
  };
}

/**
 * Drives the pages without a browser: the broker's sign-in page (its "Continue with" button for
 * `upstreamId`, unless the request goes straight to the upstream), the upstream's sign-in and
 * consent pages, and the broker's consent page. Returns where the broker finally sends the
 * browser (the relying party's redirect_uri), or the broker's last page when it shows one.
 */
export async function signInThroughUpstream(
  pair: UpstreamPair,
  authorizationUrl: string,
  user: { username: string; password: string },
  options: {
    upstreamId?: string;
    brokerUa?: UserAgent;
    upstreamConsent?: 'allow' | 'deny';
    /** Answers the upstream's second-factor page, when it comes. */
    upstreamOtp?: () => string;
  } = {},
): Promise<{
  url: URL;
  res?: Response;
  html?: string;
  brokerUa: UserAgent;
  upstreamUa: UserAgent;
  callback: URL;
}> {
  const brokerUa = options.brokerUa ?? new UserAgent(pair.broker.issuer);
  const upstreamUa = new UserAgent(pair.upstream.issuer);
  let { res, url } = await brokerUa.follow(authorizationUrl);
  if (new URL(url).origin === pair.broker.issuer) {
    const html = await res.text();
    const index = [...html.matchAll(/<form[^>]*>/g)].findIndex((m) => /\/upstream"/.test(m[0]));
    if (index < 0) throw new Error(`no upstream buttons on the page:\n${html.slice(0, 1500)}`);
    const { action, fields } = readForm(html, index);
    const button = readButtons(html, index).find((b) => b.value === (options.upstreamId ?? 'corp'));
    if (!button) throw new Error(`no button for ${options.upstreamId}`);
    ({ res, url } = await brokerUa.submit(new URL(action, url).href, { ...fields, upstream: button.value! }));
  }
  const callback = await signIn(upstreamUa, url, user, {
    consent: options.upstreamConsent ?? 'allow',
    ...(options.upstreamOtp ? { otp: options.upstreamOtp } : {}),
  });
  ({ res, url } = await brokerUa.follow(callback.href));
  for (
    let step = 0;
    step < 3 && new URL(url).origin === pair.broker.issuer && res.status === 200;
    step += 1
  ) {
    const html = await res.text();
    if (!/Allow access/.test(html)) return { url: new URL(url), res, html, brokerUa, upstreamUa, callback };
    const { action, fields } = readForm(html, 0);
    ({ res, url } = await brokerUa.submit(new URL(action, url).href, fields));
  }
  if (new URL(url).origin === pair.broker.issuer) {
    return { url: new URL(url), res, html: await res.text(), brokerUa, upstreamUa, callback };
  }
  return { url: new URL(url), brokerUa, upstreamUa, callback };
}

export { TEST_CLIENTS, TEST_USERS };
