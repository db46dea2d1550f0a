import { createMemoryStore } from '../../src/storage/memory-store.js';
import { createPasskeys, interactionBinding, type StoredPasskey } from '../../src/mfa/passkeys.js';

const passkey = (id: string): StoredPasskey => ({
  id,
  publicKey: 'pQECAyYgASFYIA',
  counter: 0,
  backupEligible: false,
  backedUp: false,
  name: id,
  createdAt: 1,
});

describe('passkey state in the store', () => {
  it('gives each user one random user handle, kept from the first use', async () => {
    const passkeys = createPasskeys(createMemoryStore());
    const handle = await passkeys.userHandle('sub-a');
    expect(Buffer.from(handle, 'base64url')).toHaveLength(32);
    expect(await passkeys.userHandle('sub-a')).toBe(handle);
    expect(await passkeys.userHandle('sub-b')).not.toBe(handle);
  });

  it('indexes credential ids to their user and never lets a second user take one', async () => {
    const passkeys = createPasskeys(createMemoryStore());
    expect(await passkeys.add('sub-a', passkey('c1'))).toBe(true);
    expect(await passkeys.add('sub-a', passkey('c2'))).toBe(true);
    expect(await passkeys.add('sub-b', passkey('c1'))).toBe(false);
    expect(await passkeys.list('sub-b')).toEqual([]);
    expect((await passkeys.findByCredential('c1'))?.sub).toBe('sub-a');
    expect((await passkeys.list('sub-a')).map((p) => p.id)).toEqual(['c1', 'c2']);
    expect(await passkeys.remove('sub-b', 'c1')).toBeUndefined();
    expect((await passkeys.remove('sub-a', 'c1'))?.id).toBe('c1');
    expect(await passkeys.findByCredential('c1')).toBeUndefined();
    expect(await passkeys.removeAll('sub-a')).toBe(1);
    expect(await passkeys.has('sub-a')).toBe(false);
  });

  it('records each use: counter, backup state and time', async () => {
    const passkeys = createPasskeys(createMemoryStore());
    await passkeys.add('sub-a', passkey('c1'));
    await passkeys.recordUse('sub-a', 'c1', { counter: 7, backedUp: true }, 1234);
    expect(await passkeys.list('sub-a')).toEqual([
      { ...passkey('c1'), counter: 7, backedUp: true, lastUsedAt: 1234 },
    ]);
  });

  it('takes a challenge once, from its own binding only, also when two takes race', async () => {
    const passkeys = createPasskeys(createMemoryStore());
    await passkeys.openChallenge(interactionBinding('uid-1'), { challenge: 'ch-1', purpose: 'sign-in' });
    expect(await passkeys.takeChallenge(interactionBinding('uid-2'))).toBeUndefined();
    const [a, b] = await Promise.all([
      passkeys.takeChallenge(interactionBinding('uid-1')),
      passkeys.takeChallenge(interactionBinding('uid-1')),
    ]);
    expect([a, b].filter(Boolean)).toEqual([{ challenge: 'ch-1', purpose: 'sign-in' }]);
    expect(await passkeys.takeChallenge(interactionBinding('uid-1'))).toBeUndefined();
    // The same challenge value opened again (it never is: they are random) cannot be answered twice.
    await passkeys.openChallenge(interactionBinding('uid-3'), { challenge: 'ch-1', purpose: 'sign-in' });
    expect(await passkeys.takeChallenge(interactionBinding('uid-3'))).toBeUndefined();
  });
});
