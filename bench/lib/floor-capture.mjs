// What the floor (bench/floor.mjs) serves: Gatehouse's discovery and /jwks answers, captured from
// a running Gatehouse byte for byte, with their headers (200 and 304), so that both servers send
// the same bytes and the difference in rate is what Gatehouse does per request.
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';

export const FLOOR_PATHS = ['/.well-known/openid-configuration', '/jwks'];

/** Headers Node adds by itself (Date, Connection, Keep-Alive) or the floor computes. */
const SKIP = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, raw: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw header pairs as sent, without those Node adds; the request id becomes a constant of the same length. */
function keep(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (SKIP.has(name)) continue;
    out.push(raw[i], name === 'x-request-id' ? '0'.repeat(raw[i + 1].length) : raw[i + 1]);
  }
  return out;
}

/**
 * Fetches each document from the Gatehouse at `url` (a cache hit, as under load: the first request
 * fills the cache) and its 304, and writes them to `file` for bench/floor.mjs.
 */
export async function captureFloorDocuments(url, file) {
  const documents = {};
  for (const path of FLOOR_PATHS) {
    await get(`${url}${path}`);
    const ok = await get(`${url}${path}`);
    const etag = ok.raw[ok.raw.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'etag') + 1];
    if (ok.status !== 200 || !etag)
      throw new Error(`floor: ${path} at ${url} answered ${ok.status} without an ETag`);
    const notModified = await get(`${url}${path}`, { 'if-none-match': etag });
    if (notModified.status !== 304)
      throw new Error(`floor: ${path} revalidation answered ${notModified.status}`);
    documents[path] = {
      etag,
      headers: keep(ok.raw),
      notModifiedHeaders: keep(notModified.raw),
      body: ok.body.toString('base64'),
    };
  }
  writeFileSync(file, JSON.stringify(documents));
}
