/**
 * The store contract's tests of richer gates (count windows), described by `describeStoreContract`
 * for every store.
 */
import { describe, expect, it } from 'vitest';
import type { BoardStore } from '../store/contract.js';
import { expireGate, gateKey } from '../store/gate-state.js';
import { T0, type Fixtures } from './store-contract-fixtures.js';

type WithStore = (test: (store: BoardStore, f: Fixtures) => Promise<void>) => () => Promise<void>;

const countJoin = (maxWaiting: number, windowMs?: number) =>
  ({ key: gateKey('match', 0, { joinKey: 'k' }), agent: 'match', subscription: 0, kind: 'join', typeNames: ['Bid', 'Ask'], joinKey: 'k', maxWaiting, windowMs }) as const;

/** The count-window tests, with the suite's `withStore`. */
export function describeWindowContract(withStore: WithStore): void {
  describe('count windows', () => {
    it(
      'keeps at most maxWaiting entries a side in a join: the oldest is pushed out and the gate is due at once',
      withStore(async (store, f) => {
        const bids = [f.artifact({ type: 'Bid' }), f.artifact({ type: 'Bid' }), f.artifact({ type: 'Bid' })];
        await store.publish({ writes: [f.deposit(bids[0]!, { ...countJoin(2), positions: [0] })], now: T0 });
        const second = await store.publish({ writes: [f.deposit(bids[1]!, { ...countJoin(2), positions: [0] })], now: T0 + 1 });
        expect(second.nextDeadline).toBeUndefined();
        expect(await store.nextDeadline()).toBeUndefined();
        const third = await store.publish({ writes: [f.deposit(bids[2]!, { ...countJoin(2), positions: [0] })], now: T0 + 2 });
        expect(third.nextDeadline).toBe(T0 + 2);
        expect((await store.pending()).timedGates).toBe(1);
        const [due] = await store.dueGates(T0 + 2, 10);
        expect(due?.evicted).toEqual([1, 0]);
        // What the board's deadline path takes out: the pushed-out entry only.
        expect(expireGate(structuredClone(due!), T0 + 2).taken.map((entries) => entries.map((e) => e.artifactId))).toEqual([[bids[0]!.id], []]);
        const closed = await store.publish({ writes: [], closeGates: [{ key: due!.key, version: due!.version }], now: T0 + 2 });
        expect(closed.status).toBe('applied');
        const [left] = await store.listGates();
        expect(left?.slots[0]?.map((e) => e.artifactId)).toEqual([bids[1]!.id, bids[2]!.id]);
        expect(left?.deadline).toBeUndefined();
        expect(await store.nextDeadline()).toBeUndefined();
      }),
    );

    it(
      'pairs a partner with the oldest entry still inside the window, skipping those pushed out',
      withStore(async (store, f) => {
        const bids = [f.artifact({ type: 'Bid' }), f.artifact({ type: 'Bid' }), f.artifact({ type: 'Bid' })];
        for (const [i, bid] of bids.entries()) await store.publish({ writes: [f.deposit(bid, { ...countJoin(1), positions: [0] })], now: T0 + i });
        const ask = f.artifact({ type: 'Ask' });
        const paired = await store.publish({ writes: [f.deposit(ask, { ...countJoin(1), positions: [1] })], now: T0 + 5 });
        expect(paired.runs.map((r) => r.inputIds)).toEqual([[bids[2]!.id, ask.id]]);
        // The two pushed out still wait to be reported, due since the first left the window.
        const [due] = await store.dueGates(T0 + 5, 10);
        expect(due?.deadline).toBe(T0 + 1);
        expect(due?.slots[0]?.map((e) => e.artifactId).sort()).toEqual([bids[0]!.id, bids[1]!.id].sort());
        await store.publish({ writes: [], closeGates: [{ key: due!.key, version: due!.version }], now: T0 + 5 });
        expect(await store.listGates()).toEqual([]);
      }),
    );

    it(
      'keeps a count window and its pushed-out entries across units, and a cancel removes them with their workflow',
      withStore(async (store, f) => {
        const mine = f.artifact({ type: 'Bid', correlationId: 'doomed' });
        const theirs = f.artifact({ type: 'Bid', correlationId: 'other' });
        await store.publish({ writes: [f.deposit(mine, { ...countJoin(1, 60_000), positions: [0] })], now: T0 });
        await store.publish({ writes: [f.deposit(theirs, { ...countJoin(1, 60_000), positions: [0] })], now: T0 + 1 });
        expect((await store.pending({ correlationId: 'doomed' })).timedGates).toBe(1);
        await store.setWorkflowState('doomed', 'cancelled');
        const [gate] = await store.listGates();
        expect(gate?.slots[0]?.map((e) => e.artifactId)).toEqual([theirs.id]);
        expect(gate?.evicted).toBeUndefined();
        expect(gate?.deadline).toBe(T0 + 1 + 60_000);
        expect(await store.dueGates(T0 + 2, 10)).toEqual([]);
      }),
    );
  });
}

const joinedBatch = (batchSize: number, windowMs?: number) =>
  ({
    key: gateKey('settle', 0, { joinKey: 'k' }),
    agent: 'settle',
    subscription: 0,
    kind: 'join',
    typeNames: ['Bid', 'Ask'],
    joinKey: 'k',
    windowMs: 60_000,
    thenBatch: { key: `${gateKey('settle', 0, 'board')}/batch`, batchSize, windowMs },
  }) as const;

/** The tests of a join feeding a batch, with the suite's `withStore`. */
export function describeJoinedBatchContract(withStore: WithStore): void {
  describe('a join feeding a batch', () => {
    it(
      'puts each joined group into the batch in the same unit, and runs the batch with the groups flattened when it is full',
      withStore(async (store, f) => {
        const pair = () => [f.artifact({ type: 'Bid', correlationId: 'wf-a' }), f.artifact({ type: 'Ask', correlationId: 'wf-b' })] as const;
        const pairs = [pair(), pair()] as const;
        await store.publish({ writes: [f.deposit(pairs[0][0], { ...joinedBatch(2, 100), positions: [0] })], now: T0 });
        const first = await store.publish({ writes: [f.deposit(pairs[0][1], { ...joinedBatch(2, 100), positions: [1] })], now: T0 + 1 });
        expect(first.runs).toEqual([]);
        expect(first.nextDeadline).toBe(T0 + 101);
        const gates = await store.listGates();
        const batch = gates.find((gate) => gate.kind === 'batch');
        expect(batch?.slots[0]?.map((entry) => [entry.artifactIds, entry.correlationId])).toEqual([[[pairs[0][0].id, pairs[0][1].id], 'wf-a']]);
        expect((await store.listGates({ correlationId: 'wf-a' })).map((gate) => gate.kind)).toEqual(['batch']);
        await store.publish({ writes: [f.deposit(pairs[1][1], { ...joinedBatch(2, 100), positions: [1] })], now: T0 + 2 });
        const second = await store.publish({ writes: [f.deposit(pairs[1][0], { ...joinedBatch(2, 100), positions: [0] })], now: T0 + 3 });
        expect(second.runs.map((run) => [run.agent, run.inputIds, run.correlationId])).toEqual([
          ['settle', [pairs[0][0].id, pairs[0][1].id, pairs[1][0].id, pairs[1][1].id], 'wf-a'],
        ]);
        expect(await store.listGates()).toEqual([]);
        expect(await store.nextDeadline()).toBeUndefined();
      }),
    );

    it(
      'hands out a batch of groups due at its timeout, and a cancel of the workflow of a group removes it',
      withStore(async (store, f) => {
        const bid = f.artifact({ type: 'Bid', correlationId: 'doomed' });
        const ask = f.artifact({ type: 'Ask', correlationId: 'other' });
        await store.publish({ writes: [f.deposit(bid, { ...joinedBatch(5, 100), positions: [0] }), f.deposit(ask, { ...joinedBatch(5, 100), positions: [1] })], now: T0 });
        const [due] = await store.dueGates(T0 + 100, 10);
        expect(due?.kind).toBe('batch');
        expect(due?.slots[0]?.[0]?.artifactIds).toEqual([bid.id, ask.id]);
        await store.setWorkflowState('doomed', 'cancelled');
        expect(await store.listGates()).toEqual([]);
        expect(await store.dueGates(T0 + 100, 10)).toEqual([]);
      }),
    );
  });
}
