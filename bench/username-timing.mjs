// Measures what the sign-in form's answer time could reveal: how long the account store takes
// to refuse a wrong password for a known username and for an unknown one (verified against the
// dummy hash, accounts/dummy-hash.ts). Run after a build:
//   npm run build && node bench/username-timing.mjs [rounds]
// Prints the median and p90 of each, in milliseconds, and their ratio (1.00 is the goal).
import { createAccountStore } from '../dist/accounts/account-store.js';
import { hashPassword } from '../dist/accounts/password.js';

const rounds = Number(process.argv[2] ?? 40);
const users = await Promise.all(
  ['ann', 'ben', 'cat'].map(async (username, i) => ({
    username,
    password: await hashPassword(`${username}-password`),
    claims: { sub: `user-${i}` },
  })),
);
const accounts = createAccountStore(users);
await accounts.authenticate('warm-up', 'x'); // the dummy hash is made on creation

async function time(username) {
  const samples = [];
  for (let i = 0; i < rounds; i += 1) {
    const started = process.hrtime.bigint();
    await accounts.authenticate(username, `wrong-${i}`);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(rounds / 2)], p90: samples[Math.floor(rounds * 0.9)] };
}

// Interleave the two so that machine noise falls on both alike.
const known = [];
const unknown = [];
for (let i = 0; i < 4; i += 1) {
  known.push(await time('ben'));
  unknown.push(await time(`nobody-${i}`));
}
const median = (list, key) => list.map((s) => s[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
const row = (name, list) =>
  `| ${name} | ${median(list, 'p50').toFixed(2)} | ${median(list, 'p90').toFixed(2)} |`;
process.stdout.write(
  [
    `| Username | p50 ms | p90 ms |`,
    `| --- | --- | --- |`,
    row('known, wrong password', known),
    row('unknown', unknown),
    '',
    `unknown / known (p50): ${(median(unknown, 'p50') / median(known, 'p50')).toFixed(2)}`,
    '',
  ].join('\n'),
);
