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
