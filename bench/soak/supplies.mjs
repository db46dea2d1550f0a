// What the soak's requests need, kept topped up while it runs: authorization codes (minted
// through Gatehouse's own models by bench/mint.mjs, each used once), refresh tokens (minted, then
// rotated by the traffic itself: each answer's new token goes back into the pool), access tokens
// (from the traffic's own token answers) and pending device codes. The TTLs are the soak's short
// ones (see run.mjs), so nothing is used within 25 seconds of its expiry (a request may wait that
// long in a server's queue when other processes take the machine).
const MARGIN_MS = 25_000;

/**
 * @param {object} deps
 * @param {(kind: string, clientId: string, count: number) => Promise<string[]>} deps.mint
 * @param {{ accessToken: number, refreshToken: number, grant: number, deviceCode: number }} deps.ttl seconds
 * @param {(line: string) => void} deps.log
 */
export function createSupplies({ mint, ttl, log }) {
  const now = () => Date.now();
  const mintFailures = { count: 0, last: undefined };
  const minting = new Set();
  /** Mints in the background (one call per kind at a time); an outage only delays it. */
  const refill = (kind, clientId, count, onValues) => {
    if (minting.has(kind) || count <= 0) return;
    minting.add(kind);
    mint(kind, clientId, Math.min(count, 1000))
      .then(onValues, (err) => {
        mintFailures.count += 1;
        mintFailures.last = err.message.split('\n')[0];
      })
      .finally(() => minting.delete(kind));
  };
  const rate = () => ({ taken: 0, perSecond: 0 });

  // Codes: each once, young enough (authorization codes live 60 s).
  const codes = { items: [], rate: rate() };
  // Refresh tokens: a FIFO; the grant they belong to expires too.
  const refresh = { items: [], rate: rate(), sample: undefined };
  // Access tokens: the most recent ones, any of them reused.
  const access = { items: [], next: 0 };
  // Pending device codes: reused round-robin (polled faster than the interval: slow_down).
  const device = { items: [], next: 0, mintedAt: 0 };

  const usable = (item) => Math.min(item.expiresAt, item.grantExpiresAt ?? Infinity) - now() > MARGIN_MS;
  const addRefresh = (token, grantExpiresAt) => {
    const item = { token, grantExpiresAt, expiresAt: now() + ttl.refreshToken * 1000 };
    // The sample for the restart check keeps every other token issued lately out of traffic (the
    // other half keeps the pool going while minting is held up by the outage).
    if (refresh.sample) refresh.alternate = !refresh.alternate;
    // Only tokens with time to spare: the check comes after the restart.
    if (refresh.sample && refresh.alternate && Math.min(item.expiresAt, grantExpiresAt) - now() > 45_000) {
      refresh.sample.push(item);
      if (refresh.sample.length > refresh.sampleSize) refresh.sample.shift();
    } else refresh.items.push(item);
  };

  return {
    mintFailures,
    takeCode() {
      codes.rate.taken += 1;
      while (codes.items.length && !usable(codes.items[0])) codes.items.shift();
      return codes.items.shift()?.code;
    },
    takeRefresh() {
      refresh.rate.taken += 1;
      while (refresh.items.length && !usable(refresh.items[0])) refresh.items.shift();
      return refresh.items.shift();
    },
    /** The rotated token from a refresh answer (same grant as the one it replaces). */
    returnRefresh(token, taken) {
      addRefresh(token, taken.grantExpiresAt);
    },
    /** A token whose request failed without an answer about it: back into the pool. */
    putBackRefresh(taken) {
      refresh.items.unshift(taken);
    },
    addAccess(token) {
      access.items.push({ token, expiresAt: now() + ttl.accessToken * 1000 });
      if (access.items.length > 256) access.items.shift();
    },
    pickAccess() {
      for (let k = 0; k < access.items.length; k += 1) {
        const item = access.items[access.next++ % access.items.length];
        if (usable(item)) return item.token;
      }
      return undefined;
    },
    pickDevice() {
      if (!device.items.length) return undefined;
      return device.items[device.next++ % device.items.length];
    },
    /** From now on, rotated refresh tokens go into a sample (the last `size` kept), not the pool. */
    startRefreshSample(size) {
      refresh.sampleSize = size;
      refresh.sample = [];
    },
    endRefreshSample() {
      const sample = refresh.sample ?? [];
      refresh.sample = undefined;
      return sample;
    },
    /** Called every second: measures what is used and mints what will be needed soon. */
    tick() {
      for (const s of [codes, refresh]) {
        s.rate.perSecond = 0.7 * s.rate.perSecond + 0.3 * s.rate.taken;
        s.rate.taken = 0;
      }
      // Enough codes for 6 seconds at the current pace (and a floor for the start).
      const codeNeed = Math.ceil(codes.rate.perSecond * 6) + 50;
      refill('code', 'bench-web', codeNeed - codes.items.length, (values) => {
        const expiresAt = now() + 50_000;
        codes.items.push(...values.map((code) => ({ code, expiresAt })));
      });
      const refreshNeed = Math.ceil(refresh.rate.perSecond * 8) + 50;
      refill('refresh', 'bench-web', refreshNeed - refresh.items.length, (values) => {
        const grantExpiresAt = now() + ttl.grant * 1000;
        for (const token of values) addRefresh(token, grantExpiresAt);
      });
      if (!access.items.some(usable))
        refill('access', 'bench-web', 64, (values) => values.forEach((t) => this.addAccess(t)));
      // Device codes: a fresh set once the current one is half-way through its lifetime.
      if (now() - device.mintedAt > (ttl.deviceCode * 1000) / 2) {
        // Few of them: the store keeps a device code 10 minutes past its expiry (RFC 8628
        // expired_token), so each set stays in the key count for the whole run.
        refill('device', 'bench-device', 64, (values) => {
          device.items = values;
          device.mintedAt = now();
        });
      }
    },
    /** Mints the first of everything; resolves when each kind has some. */
    async prime() {
      for (let k = 0; k < 600; k += 1) {
        this.tick();
        if (codes.items.length && refresh.items.length && access.items.length && device.items.length) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      log(`soak: could not mint the first codes and tokens (${mintFailures.last ?? 'no answer'})`);
      throw new Error('minting failed');
    },
  };
}
