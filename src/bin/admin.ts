#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, ConfigError } from '../config/load-config.js';
import { clientSchema } from '../config/schema.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { hashPassword } from '../accounts/password.js';
import { listStoredUsers, removeStoredUser, saveStoredUser } from '../accounts/stored-accounts.js';
import { KEY_RECORD, readKeyRecord, rotateSigningKeys } from '../keys/signing-keys.js';
import { escapeForTerminal as safe, hasUnsafeCharacters } from './terminal-text.js';
import {
  createInitialAccessToken,
  listInitialAccessTokens,
  revokeInitialAccessToken,
} from '../oidc/initial-access-tokens.js';
import { revokeSessions } from './revoke-sessions.js';
import { MFA_COMMANDS, runMfaCommand } from './mfa-commands.js';
import { createAccountStore } from '../accounts/account-store.js';
import { createStoredAccountStore } from '../accounts/stored-accounts.js';
import { listUpstreamLinks, removeUpstreamLinks } from '../accounts/upstream-links.js';

const USAGE = `usage: npm run admin -- <command>   (in the Docker image: gatehouse-admin <command>)

  clients list
  clients add --name NAME --redirect-uri URI [--redirect-uri URI…] [--grant-type TYPE…]
              [--scope "openid profile"] [--public] [--id CLIENT_ID]
  clients remove CLIENT_ID
  users list
  users add USERNAME [--email E] [--name N] [--sub S]     (password read from stdin)
  users remove USERNAME
  users enrol-totp USERNAME       (authenticator app; prints the secret and otpauth:// URI once)
  users recovery-codes USERNAME   (prints 10 new single-use recovery codes once)
  users reset-mfa USERNAME        (removes the user's second factors and recovery codes)
  keys list
  keys rotate
  registration-tokens create [--label TEXT] [--trusted]   (prints the token once)
  registration-tokens list
  registration-tokens revoke ID
  upstreams list USERNAME|SUB                 (the upstream identity providers linked to the account)
  upstreams unlink USERNAME|SUB UPSTREAM_ID   (its next sign-in there creates or links an account anew)
  sessions revoke USERNAME [--all-grants]   (signs the user out everywhere; logout tokens sent)
  config check [FILE]

Works on the store the server uses (REDIS_URL, CONFIG_FILE and the other variables as for the server).`;

type Flags = Record<string, string | boolean | string[] | undefined>;

/** The admin command: manages clients, users and signing keys in the shared store. */
async function run(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      scope: { type: 'string' },
      public: { type: 'boolean' },
      id: { type: 'string' },
      email: { type: 'string' },
      sub: { type: 'string' },
      label: { type: 'string' },
      trusted: { type: 'boolean' },
      'all-grants': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [area, command, arg] = positionals;
  if (values.help || !area) return print(USAGE, 0);
  // Names given here are stored and later printed, to this operator or another: refuse what
  // could rewrite a terminal or disguise one name as another (see terminal-text.ts).
  const given = [...positionals, ...Object.values(values).flatMap((v) => (typeof v === 'boolean' ? [] : v))];
  const unsafe = given.find((v) => v !== undefined && hasUnsafeCharacters(v));
  if (unsafe !== undefined) {
    return print(
      `gatehouse-admin: refusing "${safe(unsafe)}": control, bidirectional and zero-width characters are not allowed`,
      2,
    );
  }
  if (area === 'config' && command === 'check') {
    const config = loadConfig({ env: arg ? { ...process.env, CONFIG_FILE: arg } : process.env });
    return print(
      `configuration OK: ${config.clients.length} clients, ${config.users.length} users, issuer ${config.issuer}`,
      0,
    );
  }
  const config = loadConfig({ env: process.env });
  // Sessions exist only in the server's store: an in-memory one is out of this process's reach.
  if ((config.production || area === 'sessions') && !config.redisConnection) {
    return print('gatehouse-admin: set REDIS_URL: the in-memory store lives only inside the server', 1);
  }
  if (area === 'sessions' && command === 'revoke') {
    if (!arg) return print('gatehouse-admin: sessions revoke USERNAME', 2);
    const outcome = await revokeSessions(config, arg, { allGrants: values['all-grants'] === true });
    return print(outcome.text, outcome.code);
  }
  const store = await openStore(config, pino({ level: 'warn' }, pino.destination(2)));
  try {
    if (area === 'upstreams') return await manageUpstreamLinks(store, config, command, arg, positionals[3]);
    return await dispatch(store, area, command, arg, values, config);
  } finally {
    await store.close();
  }
}

async function dispatch(
  store: Store,
  area: string,
  command: string | undefined,
  arg: string | undefined,
  flags: Flags,
  config: ReturnType<typeof loadConfig>,
) {
  const mfaCommand = MFA_COMMANDS.find((name) => name === command);
  if (area === 'users' && mfaCommand) {
    // Factor changes leave an audit line on stderr (JSON, like the server's), apart from the output.
    const log = pino({ level: 'info', base: { tool: 'gatehouse-admin' } }, pino.destination(2));
    const outcome = await runMfaCommand(store, config, mfaCommand, arg, (event, fields) =>
      log.info({ audit: true, event, operator: userInfo().username, ...fields }, 'second factors changed'),
    );
    return print(outcome.text, outcome.code);
  }
  switch (`${area} ${command ?? ''}`) {
    case 'clients list': {
      const stored = await store.listKeys('Client:');
      // Stored names come from anyone who could register a client: print them escaped.
      const rows = config.clients.map(
        (c) => `${safe(c.client_id)}\t(configured)\t${safe(c.client_name ?? '')}`,
      );
      for (const key of stored) {
        const meta = await store.adapter('Client').find(key.slice('Client:'.length));
        if (meta)
          rows.push(`${safe(String(meta.client_id))}\t(stored)\t${safe(String(meta.client_name ?? ''))}`);
      }
      return print(rows.join('\n') || '(no clients)', 0);
    }
    case 'clients add': {
      const isPublic = flags.public === true;
      const grantTypes = (flags['grant-type'] as string[] | undefined) ?? [
        'authorization_code',
        'refresh_token',
      ];
      const clientId = (flags.id as string | undefined) ?? randomBytes(12).toString('base64url');
      const secret = isPublic ? undefined : randomBytes(32).toString('base64url');
      const metadata: Record<string, unknown> = {
        client_id: clientId,
        client_name: flags.name,
        redirect_uris: flags['redirect-uri'] ?? [],
        grant_types: grantTypes,
        response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
        token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
        ...(secret ? { client_secret: secret } : {}),
        ...(flags.scope ? { scope: flags.scope } : {}),
      };
      const checked = clientSchema.safeParse(metadata);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        return print(`gatehouse-admin: ${issue.path.join('.')}: ${issue.message}`, 2);
      }
      if (
        config.clients.some((c) => c.client_id === clientId) ||
        (await store.adapter('Client').find(clientId))
      ) {
        return print(`gatehouse-admin: client ${clientId} already exists`, 1);
      }
      await store.adapter('Client').upsert(clientId, metadata as never, 0);
      return print(
        `client_id: ${clientId}\n${secret ? `client_secret: ${secret}\n(shown once: store it now)` : 'public client (no secret)'}`,
        0,
      );
    }
    case 'clients remove': {
      if (!arg || !(await store.adapter('Client').find(arg)))
        return print(`gatehouse-admin: no stored client ${arg ?? ''}`, 1);
      await store.adapter('Client').destroy(arg);
      return print(`removed client ${arg}`, 0);
    }
    case 'users list': {
      const stored = await listStoredUsers(store);
      const rows = [
        ...config.users.map((u) => `${safe(u.username)}\t${safe(u.claims.sub)}\t(configured)`),
        ...stored.map((u) => `${safe(u.username)}\t${safe(String(u.claims.sub))}\t(stored)`),
      ];
      return print(rows.join('\n') || '(no users)', 0);
    }
    case 'users add': {
      if (!arg) return print('gatehouse-admin: users add USERNAME', 2);
      const password = await readStdin();
      if (password.length < 8)
        return print('gatehouse-admin: give a password of 8 characters or more on stdin', 2);
      const claims = {
        sub: (flags.sub as string | undefined) ?? randomBytes(12).toString('base64url'),
        preferred_username: arg,
        ...(flags.email ? { email: flags.email, email_verified: false } : {}),
        ...(flags.name ? { name: flags.name } : {}),
      };
      await saveStoredUser(store, { username: arg, passwordHash: await hashPassword(password), claims });
      return print(`user ${arg} saved (sub ${claims.sub})`, 0);
    }
    case 'users remove': {
      if (!arg || !(await removeStoredUser(store, arg)))
        return print(`gatehouse-admin: no stored user ${arg ?? ''}`, 1);
      return print(`removed user ${arg}`, 0);
    }
    case 'keys list': {
      const record = await readKeyRecord(store);
      if (!record)
        return print(
          config.jwks
            ? 'keys come from the configuration ("jwks")'
            : `no ${KEY_RECORD} yet (created at first start)`,
          0,
        );
      const now = Math.floor(Date.now() / 1000);
      const status = (k: (typeof record.keys)[number]) =>
        k.retiresAt !== undefined && k.retiresAt <= now
          ? 'retired'
          : k.activatesAt > now
            ? `published, signs from ${iso(k.activatesAt)}`
            : k.retiresAt
              ? `retiring at ${iso(k.retiresAt)}`
              : 'active';
      return print(
        record.keys
          .map((k) => `${safe(String(k.jwk.alg))}\t${safe(String(k.jwk.kid))}\t${status(k)}`)
          .join('\n'),
        0,
      );
    }
    case 'keys rotate': {
      const record = await rotateSigningKeys(store, {
        propagationSeconds: config.keys.rotationPropagationSeconds,
        maxTokenLifetimeSeconds: config.ttl.idToken + 60,
      });
      const fresh = record.keys.slice(-2);
      return print(
        `new keys published now, signing from ${iso(fresh[0]!.activatesAt)}: ${fresh.map((k) => k.jwk.kid).join(', ')}`,
        0,
      );
    }
    case 'registration-tokens create': {
      const label = flags.label as string | undefined;
      const trusted = flags.trusted === true;
      const { id, token } = await createInitialAccessToken(store, { trusted, ...(label ? { label } : {}) });
      return print(
        `initial access token ${id}${trusted ? ' (trusted: its clients are not marked as third-party)' : ''}\n${token}\n(shown once: only its hash is stored)${config.registration.enabled ? '' : '\nnote: registration.enabled is false'}`,
        0,
      );
    }
    case 'registration-tokens list': {
      const tokens = await listInitialAccessTokens(store);
      const rows = tokens.map(
        (t) =>
          `${t.id}\t${iso(t.createdAt)}\t${t.trusted ? 'trusted' : 'third-party'}\t${safe(t.label ?? '')}`,
      );
      return print(rows.join('\n') || '(no stored initial access tokens)', 0);
    }
    case 'registration-tokens revoke': {
      if (!arg || !(await revokeInitialAccessToken(store, arg)))
        return print(`gatehouse-admin: no single stored initial access token ${safe(arg ?? '')}`, 1);
      return print(`revoked initial access token ${safe(arg)} (clients registered with it stay)`, 0);
    }
    default:
      return print(USAGE, 2);
  }
}

/** `upstreams list` and `upstreams unlink`: an account named by username (configured or stored) or by sub. */
async function manageUpstreamLinks(
  store: Store,
  config: ReturnType<typeof loadConfig>,
  command: string | undefined,
  who: string | undefined,
  upstreamId: string | undefined,
): Promise<number> {
  if (!who || (command !== 'list' && command !== 'unlink') || (command === 'unlink' && !upstreamId))
    return print(
      'gatehouse-admin: upstreams list USERNAME|SUB, or upstreams unlink USERNAME|SUB UPSTREAM_ID',
      2,
    );
  const accounts = createStoredAccountStore(createAccountStore(config.users), store);
  const sub = (await accounts.findByUsername(who))?.claims.sub ?? who;
  if (command === 'list') {
    const links = await listUpstreamLinks(store, sub);
    // Upstream subjects come from the upstream: print them escaped.
    const rows = links.map((l) => `${safe(l.upstreamId)}\t${safe(l.upstreamSub)}\tlinked ${iso(l.linkedAt)}`);
    return print(rows.join('\n') || `(no upstreams linked to ${safe(sub)})`, 0);
  }
  const removed = await removeUpstreamLinks(store, sub, upstreamId!);
  if (!removed)
    return print(`gatehouse-admin: ${safe(sub)} is not linked to upstream ${safe(upstreamId!)}`, 1);
  return print(`unlinked ${safe(sub)} from upstream ${safe(upstreamId!)}`, 0);
}

const iso = (epoch: number) => new Date(epoch * 1000).toISOString();

function print(text: string, code: number): number {
  (code === 0 ? process.stdout : process.stderr).write(`${text}\n`);
  return code;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `gatehouse-admin: ${err instanceof ConfigError ? 'configuration error\n' : ''}${(err as Error).message}\n`,
    );
    process.exit(1);
  },
);
