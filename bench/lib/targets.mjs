// The servers under test ("targets"): started per worker count, prepared (ETags, the AWS
// scenarios' client) and checked before any load (codes minted through the models redeem).
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { freePort, startServer } from './processes.mjs';
import { REDIRECT_URI, basicAuth, gatehouseEnv } from './setup.mjs';
import { BASELINE_REGISTRATION } from './scenarios.mjs';
import { captureFloorDocuments } from './floor-capture.mjs';

/** POSTs `body` and returns the JSON answer; anything but 2xx throws. */
export async function post(url, body, headers) {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Starts every target some selected scenario needs, with `workers` workers each. `ctx` holds
 * root, resultsDir, args, options, scenarios and wants; `env` the per-target settings made by
 * prepareEnvironment. Resolves with the targets (name, kind, mintTarget, port, url, server).
 */
export async function startTargets(ctx, workers, env) {
  const { root, resultsDir, args, options, scenarios, wants } = ctx;
  const needs = (name) => wants(name) && scenarios.some((s) => s.targets.includes(name));
  const profile = (name) =>
    options.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles', `${name}-w${workers}`)}`]
      : [];
  const gatehouseMain = args['gatehouse-main'] ?? join(root, 'dist', 'main.js');
  const starts = [];
  /** Starts one Gatehouse (after its port is chosen, so ports are picked one at a time). */
  const startGatehouse = async (name, main, settings, mintTarget) => {
    const port = await freePort();
    const roundTrips = await env.roundTrips.for(name);
    starts.push(
      startServer({
        name,
        args: [...profile(name), main],
        env: gatehouseEnv({ ...settings, redisUrl: roundTrips.url, port, workers }),
        readyLine: 'Gatehouse is running at',
      }).then((server) => ({
        name,
        kind: 'gatehouse',
        ...(mintTarget ? { mintTarget } : {}),
        port,
        server,
        roundTrips,
      })),
    );
  };
  if (needs('gatehouse')) await startGatehouse('gatehouse', gatehouseMain, env.gatehouse, 'gatehouse');
  if (args.compare && needs('gatehouse'))
    await startGatehouse('gatehouse-compare', args.compare, env.gatehouse, 'gatehouse');
  if (needs('gatehouse-acked'))
    await startGatehouse('gatehouse-acked', gatehouseMain, env.gatehouseAcked, 'gatehouse');
  // No mintTarget: the plain-password target runs the login scenario only, which mints nothing.
  if (needs('gatehouse-plain')) await startGatehouse('gatehouse-plain', gatehouseMain, env.gatehousePlain);
  if (needs('baseline')) {
    const port = await freePort();
    const roundTrips = await env.roundTrips.for('baseline');
    starts.push(
      startServer({
        name: 'baseline',
        args: [...profile('baseline'), join(root, 'bench', 'baseline.mjs')],
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          WORKERS: String(workers),
          BENCH_SETTINGS: env.settingsFile,
          BENCH_REDIS_URL: roundTrips.url,
        },
        readyLine: 'baseline ready',
      }).then((server) => ({
        name: 'baseline',
        kind: 'baseline',
        mintTarget: 'baseline',
        port,
        server,
        roundTrips,
      })),
    );
  }
  if (needs('peer')) {
    const [port, portEs] = [await freePort(), await freePort()];
    starts.push(
      startServer({
        name: 'peer',
        args: [join(root, 'bench', 'peer.mjs')],
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          PORT_ES256: String(portEs),
          WORKERS: String(workers),
          BENCH_SETTINGS: env.settingsFile,
        },
        readyLine: 'peer ready',
      }).then((server) => ({
        name: 'peer',
        kind: 'peer',
        port,
        server,
        urlEs256: `http://127.0.0.1:${portEs}`,
      })),
    );
  }
  const targets = [];
  const settled = await Promise.allSettled(starts);
  for (const s of settled) if (s.status === 'fulfilled') targets.push(s.value);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(targets.map((t) => t.server.stop()));
    throw failed.reason;
  }
  for (const t of targets) t.url = `http://127.0.0.1:${t.port}`;
  if (needs('floor')) {
    try {
      targets.push(await startFloor(targets, workers, env));
    } catch (err) {
      await Promise.all(targets.map((t) => t.server.stop()));
      throw err;
    }
  }
  return targets;
}

/**
 * The floor (bench/floor.mjs): started once Gatehouse runs, since it serves the bytes and headers
 * Gatehouse answers with.
 */
async function startFloor(targets, workers, env) {
  const gatehouse = targets.find((t) => t.name === 'gatehouse');
  if (!gatehouse) throw new Error('the floor target serves what Gatehouse answers: run it with gatehouse');
  await captureFloorDocuments(gatehouse.url, env.floorFile);
  const port = await freePort();
  const server = await startServer({
    name: 'floor',
    args: [join(env.root, 'bench', 'floor.mjs')],
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      WORKERS: String(workers),
      FLOOR_DOCUMENTS: env.floorFile,
    },
    readyLine: 'floor ready',
  });
  return { name: 'floor', kind: 'floor', port, server, url: `http://127.0.0.1:${port}` };
}

/**
 * Per target: the ETags of discovery and /jwks (for the revalidation scenarios; only Gatehouse has
 * them), and the client the AWS scenarios use, registered the way its users would (RegisterClient
 * at Gatehouse, RFC 7591 /reg at the baseline).
 */
export async function prepareTargets(targets) {
  for (const t of targets) {
    const etag = async (path) => (await fetch(`${t.url}${path}`)).headers.get('etag') ?? undefined;
    t.etags = { discovery: await etag('/.well-known/openid-configuration'), jwks: await etag('/jwks') };
    if (t.kind === 'gatehouse' && t.mintTarget) {
      const r = await post(
        `${t.url}/aws/oidc/client/register`,
        JSON.stringify({ clientName: 'bench-aws-cli', clientType: 'public' }),
        { 'content-type': 'application/json' },
      );
      t.awsClient = { clientId: r.clientId, clientSecret: r.clientSecret };
    } else if (t.name === 'baseline') {
      const r = await post(
        `${t.url}/reg`,
        JSON.stringify({ ...BASELINE_REGISTRATION, client_name: 'bench-aws-cli' }),
        { 'content-type': 'application/json' },
      );
      t.awsClient = { clientId: r.client_id, clientSecret: r.client_secret };
    }
  }
}

/** Functional checks before any load: codes minted through the models redeem, with the right alg. */
export async function preflight(target, minter) {
  for (const [clientId, alg] of [
    ['bench-web', 'RS256'],
    ['bench-web-es256', 'ES256'],
  ]) {
    const [code] = await minter.mint(target.mintTarget, 'code', clientId, 1);
    const tokens = await post(
      `${target.url}/token`,
      new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
      { authorization: basicAuth(clientId) },
    );
    const got = decodeProtectedHeader(tokens.id_token).alg;
    if (got !== alg) throw new Error(`${target.name}: ${clientId} got an ${got} ID token, expected ${alg}`);
  }
}
