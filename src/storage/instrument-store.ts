import type { Store } from './store.js';

export interface StoreObserver {
  /** Called once per store operation with its duration, and what it threw if it did. */
  observe(operation: string, seconds: number, error?: unknown): void;
}

/**
 * Wraps a store so every operation reports its latency and failures to an observer (metrics),
 * without the store knowing about metrics.
 */
export function instrumentStore(store: Store, observer: StoreObserver): Store {
  const timed =
    <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        const result = await fn(...args);
        observer.observe(operation, (performance.now() - started) / 1000);
        return result;
      } catch (err) {
        observer.observe(operation, (performance.now() - started) / 1000, err);
        throw err;
      }
    };
  const adapters = new Map<string, ReturnType<Store['adapter']>>();
  return {
    ...store,
    kind: store.kind,
    persistent: store.persistent,
    adapter(model) {
      let wrapped = adapters.get(model);
      if (!wrapped) {
        const inner = store.adapter(model);
        wrapped = {
          upsert: timed('upsert', inner.upsert.bind(inner)),
          find: timed('find', inner.find.bind(inner)),
          findByUid: timed('findByUid', inner.findByUid.bind(inner)),
          findByUserCode: timed('findByUserCode', inner.findByUserCode.bind(inner)),
          consume: timed('consume', inner.consume.bind(inner)),
          destroy: timed('destroy', inner.destroy.bind(inner)),
          revokeByGrantId: timed('revokeByGrantId', inner.revokeByGrantId.bind(inner)),
        };
        adapters.set(model, wrapped);
      }
      return wrapped;
    },
    getRecord: timed('getRecord', store.getRecord.bind(store)) as Store['getRecord'],
    setRecord: timed('setRecord', store.setRecord.bind(store)),
    setRecordIfAbsent: timed('setRecordIfAbsent', store.setRecordIfAbsent.bind(store)),
    deleteRecord: timed('deleteRecord', store.deleteRecord.bind(store)),
    recordPoll: timed('recordPoll', store.recordPoll.bind(store)),
    pollDeviceCode: timed('pollDeviceCode', store.pollDeviceCode.bind(store)),
    sessionsOf: timed('sessionsOf', store.sessionsOf.bind(store)),
    ping: timed('ping', store.ping.bind(store)),
    createRateLimiter: store.createRateLimiter.bind(store),
    // Answered in-process on the common path: timing it would cost more than it does.
    blocks: store.blocks,
    deleteWhere: store.deleteWhere.bind(store),
    listKeys: store.listKeys.bind(store),
    close: store.close.bind(store),
  };
}
