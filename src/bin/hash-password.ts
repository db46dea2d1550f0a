import { hashPassword } from '../accounts/password.js';

/**
 * `npm run hash-password -- <password>` (or the password on stdin): prints an argon2id PHC
 * hash to paste into a user's "password" in the configuration file.
 */
async function run() {
  let password = process.argv[2];
  if (!password) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!password) {
    process.stderr.write('usage: npm run hash-password -- <password>   (or pipe it on stdin)\n');
    process.exit(2);
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
}

void run();
