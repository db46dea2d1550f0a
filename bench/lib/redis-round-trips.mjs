// Redis round trips, counted on the wire: a small TCP proxy between one target and the bench's
// Redis that reads the RESP commands each client sends and counts
//   - one round trip per command sent on its own,
//   - one per MULTI … EXEC (or DISCARD) transaction, whatever it holds,
//   - one per EVAL / EVALSHA (a Lua script's own calls happen inside Redis, not on the wire).
// Commands that a client sends back to back without MULTI (ioredis commands started together,
// e.g. under Promise.all, or a non-transactional pipeline) count one each: the proxy cannot tell
// them from the commands of concurrent requests sharing the connection, so the count gives credit
// only to batching that Redis can see. It is the same rule for every target, and an upper bound
// on the waits a request makes. Replies are passed through untouched.
import { createServer, connect } from 'node:net';

const CR = 13;
const STAR = 42;
const DOLLAR = 36;

/**
 * Starts a counting proxy on a free loopback port in front of `redisPort`. `url` is what the
 * target should use as REDIS_URL; `read()` returns the totals so far; `close()` stops it.
 */
export async function startRoundTripCounter({ redisPort, host = '127.0.0.1' }) {
  const totals = { commands: 0, roundTrips: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect(redisPort, host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const parser = createCommandParser((name) => {
      totals.commands += 1;
      if (parser.inMulti) {
        if (name === 'exec' || name === 'discard') parser.inMulti = false;
        return;
      }
      if (name === 'multi') parser.inMulti = true;
      totals.roundTrips += 1;
    });
    client.on('data', (chunk) => {
      parser.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  const { port } = server.address();
  return {
    port,
    url: `redis://${host}:${port}`,
    read: () => ({ ...totals }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * An incremental RESP request parser: calls `onCommand(lowercased name)` once per complete
 * command. Clients send arrays of bulk strings; an inline command is a line of its own.
 */
export function createCommandParser(onCommand) {
  let pending = null; // bytes of an incomplete command carried over to the next chunk
  const parser = {
    inMulti: false,
    push(chunk) {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const next = parseOne(buf, pos, onCommand);
        if (next < 0) break;
        pos = next;
      }
      pending = pos < buf.length ? buf.subarray(pos) : null;
      buf = null;
    },
  };
  return parser;
}

/** Parses one command at `pos`; returns the position after it, or -1 when it is incomplete. */
function parseOne(buf, pos, onCommand) {
  if (pos >= buf.length) return -1;
  if (buf[pos] !== STAR) {
    const eol = buf.indexOf(CR, pos);
    if (eol < 0 || eol + 1 >= buf.length) return -1;
    const name = buf.toString('latin1', pos, eol).trim().split(/\s+/, 1)[0] ?? '';
    onCommand(name.toLowerCase());
    return eol + 2;
  }
  const header = readLine(buf, pos + 1);
  if (!header) return -1;
  const count = header.value;
  let at = header.next;
  let name = '';
  for (let i = 0; i < count; i += 1) {
    if (at >= buf.length || buf[at] !== DOLLAR) return -1;
    const length = readLine(buf, at + 1);
    if (!length) return -1;
    const end = length.next + length.value;
    if (end + 2 > buf.length) return -1;
    if (i === 0) name = buf.toString('latin1', length.next, end).toLowerCase();
    at = end + 2;
  }
  onCommand(name);
  return at;
}

/** Reads a decimal number up to CRLF starting at `pos`. */
function readLine(buf, pos) {
  let value = 0;
  for (let i = pos; i < buf.length; i += 1) {
    const byte = buf[i];
    if (byte === CR) return i + 1 < buf.length ? { value, next: i + 2 } : null;
    value = value * 10 + (byte - 48);
  }
  return null;
}

/**
 * One counting proxy per target name, started on first use and stopped through `cleanups`: each
 * target's round trips are its own, whatever else (the minter, the bench) talks to Redis.
 */
export function createRoundTripCounters(redisPort, cleanups) {
  const counters = new Map();
  return {
    async for(name) {
      if (!counters.has(name)) {
        const counter = await startRoundTripCounter({ redisPort });
        cleanups.push(() => counter.close());
        counters.set(name, counter);
      }
      return counters.get(name);
    },
  };
}
