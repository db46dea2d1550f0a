// Bench helper process: mints authorization codes, refresh tokens, access tokens and pending
// device codes through each provider's own models, on the same Redis the servers use, so that
// the load only measures redeeming them. Gatehouse's provider comes from createGatehouse()
// (dist/gatehouse.js, the same configuration as the servers, from the environment); the
// baseline's from lib/baseline-provider.mjs. Talks to the bench over IPC.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createGatehouse } from '../dist/gatehouse.js';
import { loadConfig } from '../dist/config/load-config.js';
import { createBaselineProvider } from './lib/baseline-provider.mjs';

const settings = JSON.parse(readFileSync(process.env.BENCH_SETTINGS, 'utf8'));
const gatehouse = await createGatehouse(loadConfig({ env: process.env }), {
  logger: pino({ level: 'silent' }),
});
// The baseline signs with the very keys Gatehouse generated into the store.
const jwks = gatehouse.providers.keys.jwks;
const baseline = createBaselineProvider({ ...settings.baseline, jwks, users: settings.users });
// The soak restarts Redis while this runs: the baseline's connection reconnects by itself, and
// its connection errors would only print "Unhandled error event" (Gatehouse's client logs its own).
baseline.redis.on('error', () => {});
const providers = { gatehouse: () => gatehouse.provider, baseline: () => baseline.provider };
const user = settings.users[0];

const SCOPES = {
  code: 'openid profile email',
  refresh: 'openid profile email offline_access',
  access: 'openid profile email',
};

async function mintOne(provider, kind, client) {
  const accountId = user.claims.sub;
  const now = Math.floor(Date.now() / 1000);
  if (kind === 'device') {
    const code = new provider.DeviceCode({
      client,
      deviceInfo: { ip: '127.0.0.1', ua: 'gatehouse-bench' },
      params: { client_id: client.clientId, scope: 'openid profile' },
      userCode: randomBytes(6).toString('hex').toUpperCase(),
    });
    return code.save();
  }
  const scope = SCOPES[kind];
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const common = { accountId, client, grantId, scope, sid: randomUUID() };
  if (kind === 'code') {
    const code = new provider.AuthorizationCode({
      ...common,
      redirectUri: client.redirectUris[0],
      authTime: now,
      acr: undefined,
      amr: ['pwd'],
      nonce: randomBytes(8).toString('hex'),
    });
    return code.save();
  }
  if (kind === 'refresh') {
    const token = new provider.RefreshToken({
      ...common,
      gty: 'authorization_code',
      authTime: now,
      amr: ['pwd'],
      iiat: now,
      rotations: 0,
    });
    return token.save();
  }
  if (kind === 'access') {
    const token = new provider.AccessToken({ ...common, gty: 'authorization_code' });
    return token.save();
  }
  throw new Error(`unknown kind ${kind}`);
}

async function mint({ target, kind, clientId, count }) {
  const provider = providers[target]();
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error(`${target}: unknown client ${clientId}`);
  const values = [];
  const batch = 256;
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    values.push(...(await Promise.all(Array.from({ length: n }, () => mintOne(provider, kind, client)))));
  }
  return values;
}

process.on('message', (message) => {
  if (message.op === 'stop') {
    void gatehouse.close().then(() => {
      baseline.redis.disconnect();
      process.exit(0);
    });
    return;
  }
  mint(message).then(
    (values) => process.send({ id: message.id, values }),
    (err) => process.send({ id: message.id, error: err.stack ?? String(err) }),
  );
});
process.send({ ready: true, jwks });
