import { describe, expect, it } from 'vitest';
import type { Artifact } from '../artifact.js';
import { describeStoreContract } from './store-contract.js';
import { MemoryStore } from './memory-store.js';

describeStoreContract('MemoryStore', () => new MemoryStore());
describeStoreContract('MemoryStore with retention', () => new MemoryStore({ maxArtifacts: 1_000 }));

const T0 = Date.UTC(2026, 0, 1);
const note = (id: string): Artifact => ({
  id,
  type: 'Note',
  payload: null,
  producedBy: 'external',
  correlationId: id,
  tags: [],
  visibility: { kind: 'public' },
  createdAt: new Date(T0).toISOString(),
  causedBy: [],
});

describe('MemoryStore retention', () => {
  it('answers every unit synchronously', () => {
    const store = new MemoryStore();
    const result = store.publish({ writes: [{ artifact: note('a'), runs: [], deposits: [] }], now: T0 });
    expect(result).not.toBeInstanceOf(Promise);
    expect(store.claim({ owner: 'me', agents: ['x'], limit: 1, leaseMs: 1, now: T0 })).toEqual([]);
  });

  it('keeps only the most recent artifacts listable when maxArtifacts is set', () => {
    const store = new MemoryStore({ maxArtifacts: 3 });
    for (let i = 0; i < 10; i++) store.publish({ writes: [{ artifact: note(`a${i}`), runs: [], deposits: [] }], now: T0 });
    expect(store.list().map((a) => a.id)).toEqual(['a7', 'a8', 'a9']);
    expect(store.list({ type: 'Note' }).map((a) => a.id)).toEqual(['a7', 'a8', 'a9']);
    expect(store.getArtifacts(['a0', 'a9']).map((a) => a?.id)).toEqual([undefined, 'a9']);
  });

  it('keeps an artifact a queued run still needs until that run ends', () => {
    const store = new MemoryStore({ maxArtifacts: 1 });
    const run = { id: 'r', agent: 'worker', subscription: 0, inputIds: ['needed'], correlationId: 'needed' };
    store.publish({ writes: [{ artifact: note('needed'), runs: [run], deposits: [] }], now: T0 });
    store.publish({ writes: [{ artifact: note('later'), runs: [], deposits: [] }], now: T0 });
    expect(store.list().map((a) => a.id)).toEqual(['later']);
    expect(store.getArtifacts(['needed'])[0]?.id).toBe('needed');
    const [claimed] = store.claim({ owner: 'me', agents: ['worker'], limit: 1, leaseMs: 1000, now: T0 });
    store.complete({ runId: claimed!.id, owner: 'me', attempt: 1 }, { outcome: 'finished', outputs: [] }, T0);
    expect(store.getArtifacts(['needed'])).toEqual([undefined]);
  });

  it('rejects a maxArtifacts that is not an integer >= 1', () => {
    expect(() => new MemoryStore({ maxArtifacts: 0 })).toThrow(RangeError);
  });
});
