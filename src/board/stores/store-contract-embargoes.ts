/**
 * The store contract's tests of embargoes (artifacts held apart until they become visible),
 * described by `describeStoreContract` for every store.
 */
import { describe, expect, it } from 'vitest';
import type { BoardStore } from '../store/contract.js';
import { T0, type Fixtures } from './store-contract-fixtures.js';

type WithStore = (test: (store: BoardStore, f: Fixtures) => Promise<void>) => () => Promise<void>;

/** The embargo tests, with the suite's `withStore`. */
export function describeEmbargoContract(withStore: WithStore): void {
  describe('embargoes', () => {
    it(
      'holds an embargoed artifact apart: no read finds it, it is timed work, and it is due at its end',
      withStore(async (store, f) => {
        const held = f.artifact({ correlationId: 'wf1' });
        const result = await store.publish({ writes: [{ artifact: held, runs: [], deposits: [], embargoUntil: T0 + 500 }], now: T0 });
        expect(result.status).toBe('applied');
        expect(result.nextDeadline).toBe(T0 + 500);
        expect(await store.getArtifacts([held.id])).toEqual([undefined]);
        expect(await store.list()).toEqual([]);
        expect(await store.nextDeadline()).toBe(T0 + 500);
        expect((await store.pending()).timedGates).toBe(1);
        expect((await store.pending({ correlationId: 'wf1' })).timedGates).toBe(1);
        expect((await store.pending({ correlationId: 'other' })).timedGates).toBe(0);
        expect(await store.dueEmbargoes(T0 + 499, 10)).toEqual([]);
        expect(await store.dueEmbargoes(T0 + 500, 10)).toEqual([held]);
      }),
    );

    it(
      'releases a held artifact exactly once: stored with the runs it schedules now, a second release a conflict',
      withStore(async (store, f) => {
        const held = f.artifact();
        await store.publish({ writes: [{ artifact: held, runs: [], deposits: [], embargoUntil: T0 + 100 }], now: T0 });
        const release = { writes: [{ artifact: held, runs: [f.run([held])], deposits: [] }], releases: [held.id], now: T0 + 100 };
        const first = await store.publish(release);
        expect(first.status).toBe('applied');
        expect(first.runs.map((r) => r.inputIds)).toEqual([[held.id]]);
        expect(await store.getArtifacts([held.id])).toEqual([held]);
        const again = await store.publish({ ...release, writes: [{ artifact: held, runs: [f.run([held])], deposits: [] }] });
        expect(again.status).toBe('conflict');
        expect(await store.listRuns()).toHaveLength(1);
        expect(await store.dueEmbargoes(T0 + 1_000, 10)).toEqual([]);
        expect(await store.nextDeadline()).toBeUndefined();
        expect((await store.pending()).timedGates).toBe(0);
      }),
    );

    it(
      'answers due embargoes earliest first, at most the limit, and the earliest end among gates and embargoes',
      withStore(async (store, f) => {
        const late = f.artifact();
        const early = f.artifact();
        await store.publish({ writes: [{ artifact: late, runs: [], deposits: [], embargoUntil: T0 + 300 }], now: T0 });
        await store.publish({ writes: [{ artifact: early, runs: [], deposits: [], embargoUntil: T0 + 200 }], now: T0 });
        expect((await store.dueEmbargoes(T0 + 300, 10)).map((a) => a.id)).toEqual([early.id, late.id]);
        expect((await store.dueEmbargoes(T0 + 300, 1)).map((a) => a.id)).toEqual([early.id]);
        expect(await store.nextDeadline()).toBe(T0 + 200);
      }),
    );

    it(
      'holds an embargoed output of a claimed run, and drops held artifacts with their cancelled workflow',
      withStore(async (store, f) => {
        await store.publish({ writes: [f.scheduled('worker', { correlationId: 'doomed' })], now: T0 });
        const [run] = await store.claim({ owner: 'me', agents: ['worker'], limit: 1, leaseMs: 1_000, now: T0 });
        const output = { ...f.output(0, { correlationId: 'doomed' }), embargoUntil: T0 + 50 };
        const done = await store.complete({ runId: run!.id, owner: 'me', attempt: run!.attempt }, { outcome: 'finished', outputs: [output] }, T0 + 1);
        expect(done.status).toBe('applied');
        expect(await store.getArtifacts([output.artifact.id])).toEqual([undefined]);
        expect((await store.dueEmbargoes(T0 + 50, 10)).map((a) => a.id)).toEqual([output.artifact.id]);
        await store.setWorkflowState('doomed', 'cancelled');
        expect(await store.dueEmbargoes(T0 + 50, 10)).toEqual([]);
        expect((await store.pending()).timedGates).toBe(0);
      }),
    );

    it(
      'refuses a held write that schedules anything, and an id held already',
      withStore(async (store, f) => {
        const write = f.scheduled();
        await expect(Promise.resolve().then(() => store.publish({ writes: [{ ...write, embargoUntil: T0 + 1 }], now: T0 }))).rejects.toThrow(TypeError);
        const held = f.artifact();
        await store.publish({ writes: [{ artifact: held, runs: [], deposits: [], embargoUntil: T0 + 1 }], now: T0 });
        await expect(Promise.resolve().then(() => store.publish({ writes: [{ artifact: held, runs: [], deposits: [], embargoUntil: T0 + 2 }], now: T0 }))).rejects.toThrow();
        expect((await store.dueEmbargoes(T0 + 10, 10)).map((a) => a.id)).toEqual([held.id]);
      }),
    );
  });
}
