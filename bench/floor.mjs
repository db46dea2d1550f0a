// The floor: a bare node:http server, same worker model as the others (bench/lib/workers.mjs),
// that answers GET/HEAD of discovery and /jwks with the very bytes and headers Gatehouse sends
// (captured from it after it starts, see bench/lib/floor-capture.mjs), with ETag/304, and nothing
// else. No framework, no routing, no per-request work beyond comparing If-None-Match: what Node's
// HTTP stack alone costs to answer these documents here. Prints "floor ready" once all listen.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { runWorkers } from './lib/workers.mjs';

/** path → { headers (flat name/value list), notModifiedHeaders, body (Buffer), etag } */
const documents = new Map(
  Object.entries(JSON.parse(readFileSync(process.env.FLOOR_DOCUMENTS, 'utf8'))).map(([path, d]) => [
    path,
    { ...d, body: Buffer.from(d.body, 'base64') },
  ]),
);

function answer(req, res) {
  const url = req.url;
  const query = url.indexOf('?');
  const doc = documents.get(query === -1 ? url : url.slice(0, query));
  if (!doc || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404).end();
    return;
  }
  const match = req.headers['if-none-match'];
  if (
    match &&
    (match === doc.etag || match.split(',').some((t) => t.trim().replace(/^W\//, '') === doc.etag))
  ) {
    res.writeHead(304, doc.notModifiedHeaders).end();
    return;
  }
  res.writeHead(200, doc.headers);
  res.end(req.method === 'HEAD' ? undefined : doc.body);
}

await runWorkers('floor', async () => {
  const server = createServer(answer);
  await new Promise((resolve) => server.listen(Number(process.env.PORT), '127.0.0.1', resolve));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
});
