import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { connectRedis, waitUntilReady } from '../../src/storage/redis-connect.js';

/**
 * Stands in for a redis-server that has just restarted and is still loading its data set (the
 * append-only file) — a state a real server cannot be held in on demand: until `loadedAfterMs`
 * after the first INFO, INFO answers `loading:1` with an estimate of 30 seconds, then `loading:0`.
 * PING answers PONG, everything else OK.
 */
async function startLoadingRedis(loadedAfterMs: number) {
  // Loading is timed from the client's first INFO, so a slow connection on a busy machine does not
  // eat into the window the client has to ask again within.
  let firstInfoAt: number | undefined;
  const seen: string[] = [];
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      // Commands arrive as RESP arrays of bulk strings: *<n>\r\n($<len>\r\n<arg>\r\n){n}
      for (;;) {
        const lines = buffer.split('\r\n');
        const count = Number(lines[0]?.slice(1));
        if (!lines[0]?.startsWith('*') || lines.length < 1 + 2 * count + 1) return;
        const args = Array.from({ length: count }, (_, i) => lines[2 + 2 * i] ?? '');
        buffer = lines.slice(1 + 2 * count).join('\r\n');
        const name = (args[0] ?? '').toUpperCase();
        seen.push(name);
        if (name === 'INFO') {
          firstInfoAt ??= Date.now();
          const loading = Date.now() - firstInfoAt < loadedAfterMs;
          const body = `# Persistence\r\nloading:${loading ? 1 : 0}\r\n${loading ? 'loading_eta_seconds:30\r\n' : ''}`;
          socket.write(`$${Buffer.byteLength(body)}\r\n${body}\r\n`);
        } else if (name === 'PING') socket.write('+PONG\r\n');
        else socket.write('+OK\r\n');
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    infoChecks: () => seen.filter((name) => name === 'INFO').length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Redis connection while the server loads its data set', () => {
  it('is ready soon after loading ends, not after the server’s loading estimate', async () => {
    const redis = await startLoadingRedis(1000);
    const config = loadConfig({ env: { REDIS_URL: redis.url, NODE_ENV: 'test' } });
    const client = connectRedis(config.redisConnection!, config, pino({ level: 'silent' }));
    try {
      const started = Date.now();
      await waitUntilReady(client, 15_000);
      // Loading ended after 1 s; the estimate said 30 s, and ioredis's default waits up to 10 s
      // before asking again: the store stayed unavailable that much longer than Redis was.
      expect(Date.now() - started).toBeLessThan(5000);
      expect(redis.infoChecks()).toBeGreaterThan(2);
    } finally {
      client.disconnect();
      await redis.close();
    }
  });
});
