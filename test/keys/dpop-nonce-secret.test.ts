import { DPOP_NONCE_SECRET_RECORD, loadDpopNonceSecret } from '../../src/keys/dpop-nonce-secret.js';
import { createMemoryStore } from '../../src/storage/memory-store.js';

describe('loadDpopNonceSecret', () => {
  it('generates 32 random bytes once and keeps them in the store', async () => {
    const store = createMemoryStore();
    const first = await loadDpopNonceSecret(store);
    expect(first).toHaveLength(32);
    expect(await loadDpopNonceSecret(store)).toEqual(first);
    const record = await store.getRecord<{ secret: string }>(DPOP_NONCE_SECRET_RECORD);
    expect(Buffer.from(record!.secret, 'base64url')).toEqual(first);
    expect((await loadDpopNonceSecret(createMemoryStore())).equals(first)).toBe(false);
  });

  it('gives instances racing on first start one secret: the first write wins', async () => {
    const store = createMemoryStore();
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadDpopNonceSecret(store)));
    for (const secret of secrets) expect(secret).toEqual(secrets[0]);
  });

  it('refuses a stored secret of the wrong length rather than weakening nonces', async () => {
    const store = createMemoryStore();
    await store.setRecord(DPOP_NONCE_SECRET_RECORD, { version: 1, secret: 'c2hvcnQ' });
    await expect(loadDpopNonceSecret(store)).rejects.toThrow(/32 bytes/);
  });
});
