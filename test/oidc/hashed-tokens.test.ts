import { createMemoryStore } from '../../src/storage/memory-store.js';
import { hashTokenIds, tokenStorageId } from '../../src/oidc/hashed-tokens.js';

describe('hashTokenIds', () => {
  const store = createMemoryStore();
  afterAll(() => store.close());

  it('stores a token under the hash of its value, without the value, and finds it by value', async () => {
    const adapter = hashTokenIds(store.adapter('RegistrationAccessToken'));
    await adapter.upsert(
      'the-token-value',
      { jti: 'the-token-value', kind: 'RegistrationAccessToken', iat: 1 },
      0,
    );
    expect(await store.listKeys('RegistrationAccessToken:')).toEqual([
      `RegistrationAccessToken:${tokenStorageId('the-token-value')}`,
    ]);
    expect(await store.adapter('RegistrationAccessToken').find(tokenStorageId('the-token-value'))).toEqual({
      kind: 'RegistrationAccessToken',
      iat: 1,
    });
    expect(await adapter.find('the-token-value')).toEqual({
      jti: 'the-token-value',
      kind: 'RegistrationAccessToken',
      iat: 1,
    });
    expect(await adapter.find(tokenStorageId('the-token-value'))).toBeUndefined();
    await adapter.destroy('the-token-value');
    expect(await adapter.find('the-token-value')).toBeUndefined();
  });

  it('accepts the preset values exactly, as initial access tokens without a record', async () => {
    const adapter = hashTokenIds(store.adapter('InitialAccessToken'), [
      'preset-one-0123456789',
      'preset-two-0123456789',
    ]);
    expect(await adapter.find('preset-two-0123456789')).toMatchObject({
      jti: 'preset-two-0123456789',
      kind: 'InitialAccessToken',
    });
    for (const near of ['preset-two-012345678', 'preset-two-01234567890', 'PRESET-TWO-0123456789', '']) {
      expect(await adapter.find(near)).toBeUndefined();
    }
  });
});
