// The soak's mix of requests: what each operation sends, what answer it expects, and what it
// feeds back into the supplies (new refresh and access tokens). The weights are per 100 requests.
import { DEVICE_GRANT, REDIRECT_URI, basicAuth } from '../lib/setup.mjs';

const FORM = 'application/x-www-form-urlencoded';
const form = (fields) => new URLSearchParams(fields).toString();
const json = (body) => {
  try {
    return JSON.parse(body);
  } catch {
    return {};
  }
};

export const WEIGHTS = {
  'code-token': 15,
  refresh: 15,
  userinfo: 20,
  introspection: 15,
  'device-poll': 15,
  discovery: 20,
};

/**
 * Each operation: `build()` → a request and a `settle(result)` that returns 'ok' or
 * 'unexpected' (and feeds the supplies: access tokens come from code exchanges only), or undefined when its supply is empty.
 * `onInterrupted(taken)` receives refresh tokens whose request ended in a 503 or without an
 * answer: whether they still redeem is checked after the outage.
 */
export function createMix({ supplies, onInterrupted }) {
  const ops = {
    'code-token': () => {
      const code = supplies.takeCode();
      if (!code) return undefined;
      return {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-web') },
        body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
        settle: ({ status, body }) => {
          const answer = status === 200 ? json(body) : {};
          if (!answer.access_token || !answer.id_token) return 'unexpected';
          supplies.addAccess(answer.access_token);
          return 'ok';
        },
      };
    },
    refresh: () => {
      const taken = supplies.takeRefresh();
      if (!taken) return undefined;
      return {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-web') },
        body: form({ grant_type: 'refresh_token', refresh_token: taken.token }),
        settle: ({ status, body }) => {
          if (status === 503 || status === 0) {
            onInterrupted({ ...taken, interruptedAt: Date.now(), status });
            return 'ok'; // counted by the recorder as a 503 or a connection error
          }
          const answer = status === 200 ? json(body) : {};
          if (!answer.refresh_token || !answer.access_token) return 'unexpected';
          // Its access token is not reused: the restart check's second redemption of a sampled
          // token revokes the token's whole grant (reuse detection), access tokens included.
          supplies.returnRefresh(answer.refresh_token, taken);
          return 'ok';
        },
      };
    },
    userinfo: () => {
      const token = supplies.pickAccess();
      if (!token) return undefined;
      return {
        method: 'GET',
        path: '/userinfo',
        headers: { authorization: `Bearer ${token}` },
        settle: ({ status, body }) => (status === 200 && body.includes('"sub"') ? 'ok' : 'unexpected'),
      };
    },
    introspection: () => {
      const token = supplies.pickAccess();
      if (!token) return undefined;
      return {
        method: 'POST',
        path: '/introspect',
        headers: { 'content-type': FORM, authorization: basicAuth('bench-service') },
        body: form({ token }),
        settle: ({ status, body }) =>
          status === 200 && body.includes('"active":true') ? 'ok' : 'unexpected',
      };
    },
    'device-poll': () => {
      const code = supplies.pickDevice();
      if (!code) return undefined;
      return {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': FORM },
        body: form({ grant_type: DEVICE_GRANT, device_code: code, client_id: 'bench-device' }),
        // Pending: authorization_pending, or slow_down when polled faster than the interval.
        settle: ({ status, body }) =>
          status === 400 && (body.includes('"authorization_pending"') || body.includes('"slow_down"'))
            ? 'ok'
            : 'unexpected',
      };
    },
    discovery: () => ({
      method: 'GET',
      path: '/.well-known/openid-configuration',
      headers: {},
      settle: ({ status }) => (status === 200 ? 'ok' : 'unexpected'),
    }),
  };
  // A fixed interleaving of the weights (every 100 requests hold each operation its weight's times).
  const order = [];
  const counters = Object.fromEntries(Object.keys(WEIGHTS).map((k) => [k, 0]));
  for (let slot = 0; slot < 100; slot += 1) {
    const name = Object.keys(WEIGHTS).reduce((best, k) =>
      counters[k] / WEIGHTS[k] < counters[best] / WEIGHTS[best] ? k : best,
    );
    counters[name] += 1;
    order.push(name);
  }
  let slot = 0;
  const starved = Object.fromEntries(Object.keys(WEIGHTS).map((k) => [k, 0]));
  return {
    starved,
    /** The next operation's request; when its supply is empty, the next one that has one. */
    next() {
      for (let k = 0; k < order.length; k += 1) {
        const name = order[slot++ % order.length];
        const request = ops[name]();
        if (request) return { name, request };
        starved[name] += 1;
      }
      throw new Error('every supply is empty');
    },
  };
}
