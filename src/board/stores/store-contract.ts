/**
 * The contract test suite every board store must pass: `describeStoreContract(name, makeStore)`.
 * The SQLite and PostgreSQL stores run the same suite as the memory store, so "implements
 * BoardStore" means the same behaviour everywhere. Every call is awaited, so a store may answer
 * synchronously or with promises; each test gets a fresh, empty store and closes it.
 *
 * @example
 * ```ts no-run
 * import { describeStoreContract } from '../src/board/stores/store-contract.js';
 * describeStoreContract('SqliteStore', () => new SqliteStore({ path: ':memory:' }));
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { BoardStore, ClaimedRun, OutputWrite, UnitResult } from '../store/contract.js';
import { gateKey } from '../store/gate-state.js';

import { T0, Fixtures } from './store-contract-fixtures.js';
import { describeOptionalContract } from './store-contract-optional.js';
import { describeAdmissionContract } from './store-contract-admission.js';
import { describeJoinedBatchContract, describeWindowContract } from './store-contract-windows.js';
import { describeEmbargoContract } from './store-contract-embargoes.js';

const ref = (run: ClaimedRun) => ({ runId: run.id, owner: run.owner, attempt: run.attempt });

const andGate = (key = gateKey('pair', 0, { correlationId: 'wf1' })) =>
  ({ key, agent: 'pair', subscription: 0, kind: 'and', typeNames: ['Left', 'Right'] }) as const;

/** Runs the store contract against stores made by `makeStore` (a fresh, empty store per test). */
export function describeStoreContract(name: string, makeStore: () => BoardStore | Promise<BoardStore>): void {
  describe(`${name} implements the store contract`, () => {
    const withStore = (test: (store: BoardStore, f: Fixtures) => Promise<void>) => async () => {
      const store = await makeStore();
      try {
        await test(store, new Fixtures());
      } finally {
        await store.close?.();
      }
    };
    const claimOne = async (store: BoardStore, agent = 'worker', now = T0, owner = 'me'): Promise<ClaimedRun | undefined> =>
      (await store.claim({ owner, agents: [agent], limit: 1, leaseMs: 1000, now }))[0];

    describe('the publish unit', () => {
      it(
        'stores artifacts with the runs they schedule, and lists them in publication order with every filter',
        withStore(async (store, f) => {
          const a = f.scheduled('worker', { correlationId: 'x', producedBy: 'p' });
          const b = f.scheduled('worker', { type: 'Task', correlationId: 'x' });
          const c = f.scheduled('other', { correlationId: 'y', producedBy: 'p' });
          const result = await store.publish({ writes: [a, b, c], now: T0 });
          expect(result.status).toBe('applied');
          expect(result.runs.map((r) => [r.id, r.state, r.attempt, r.enqueuedAt])).toEqual([
            [a.runs[0]!.id, 'queued', 0, T0],
            [b.runs[0]!.id, 'queued', 0, T0],
            [c.runs[0]!.id, 'queued', 0, T0],
          ]);
          const [x, y, z] = [a.artifact, b.artifact, c.artifact];
          expect(await store.list()).toEqual([x, y, z]);
          expect(await store.list({ type: 'Task' })).toEqual([y]);
          expect(await store.list({ correlationId: 'x' })).toEqual([x, y]);
          expect(await store.list({ producedBy: 'p', limit: 1 })).toEqual([x]);
          expect(await store.list({ since: y.createdAt })).toEqual([y, z]);
          expect(await store.getArtifacts([z.id, 'nope', x.id])).toEqual([z, undefined, x]);
          expect((await store.listRuns({ agent: 'worker' })).map((r) => r.id)).toEqual([a.runs[0]!.id, b.runs[0]!.id]);
        }),
      );

      it(
        'applies nothing of a unit that repeats a stored artifact id',
        withStore(async (store, f) => {
          const first = f.scheduled();
          await store.publish({ writes: [first], now: T0 });
          const fresh = f.scheduled();
          await expect(async () => store.publish({ writes: [fresh, { ...first, runs: [] }], now: T0 })).rejects.toThrow();
          expect(await store.list()).toEqual([first.artifact]);
          expect(await store.listRuns()).toHaveLength(1);
        }),
      );

      it(
        'applies nothing of a unit whose deposit names a position the gate does not have',
        withStore(async (store, f) => {
          const ok = f.scheduled();
          const bad = f.deposit(f.artifact({ type: 'Left' }), { ...andGate(), positions: [2] });
          await expect(async () => store.publish({ writes: [ok, bad], now: T0 })).rejects.toThrow(RangeError);
          expect(await store.list()).toEqual([]);
          expect(await store.listGates()).toEqual([]);
        }),
      );

      it(
        'stores nothing of a unit that writes into a cancelled workflow, and says so',
        withStore(async (store, f) => {
          await store.setWorkflowState('gone', 'cancelled');
          const result = await store.publish({ writes: [f.scheduled('worker', { correlationId: 'gone' })], now: T0 });
          expect(result.status).toBe('cancelled');
          expect(await store.list()).toEqual([]);
          expect(await store.listRuns()).toEqual([]);
        }),
      );
    });

    describe('gates', () => {
      it(
        'creates an AND gate run only when every position has an artifact, with inputs in declared order',
        withStore(async (store, f) => {
          const right = f.artifact({ type: 'Right' });
          const left = f.artifact({ type: 'Left' });
          const first = await store.publish({ writes: [f.deposit(right, { ...andGate(), positions: [1] })], now: T0 });
          expect(first.runs).toEqual([]);
          expect(await store.listGates()).toHaveLength(1);
          const second = f.deposit(left, { ...andGate(), positions: [0] });
          const done = await store.publish({ writes: [second], now: T0 + 1 });
          expect(done.runs.map((r) => [r.id, r.agent, r.inputIds])).toEqual([[second.deposits[0]!.runId, 'pair', [left.id, right.id]]]);
          expect(await store.listGates()).toEqual([]);
        }),
      );

      it(
        'puts an artifact whose type fills several positions where the fewest wait',
        withStore(async (store, f) => {
          const gate = { key: gateKey('pair', 0, { correlationId: 'wf1' }), agent: 'pair', subscription: 0, kind: 'and', typeNames: ['Note', 'Note'] } as const;
          const a = f.artifact();
          const b = f.artifact();
          await store.publish({ writes: [f.deposit(a, { ...gate, positions: [0, 1] })], now: T0 });
          const result = await store.publish({ writes: [f.deposit(b, { ...gate, positions: [0, 1] })], now: T0 });
          expect(result.runs.map((r) => r.inputIds)).toEqual([[a.id, b.id]]);
        }),
      );

      it(
        'joins artifacts of different workflows by key, the run belonging to the workflow of its first input',
        withStore(async (store, f) => {
          const join = { key: gateKey('ship', 0, { joinKey: 'order-7' }), agent: 'ship', subscription: 0, kind: 'join', typeNames: ['Order', 'Shipment'], joinKey: 'order-7', windowMs: 5000 } as const;
          const shipment = f.artifact({ type: 'Shipment', correlationId: 'shipping' });
          const order = f.artifact({ type: 'Order', correlationId: 'sales' });
          const opened = await store.publish({ writes: [f.deposit(shipment, { ...join, positions: [1] })], now: T0 });
          expect(opened.nextDeadline).toBe(T0 + 5000);
          const done = await store.publish({ writes: [f.deposit(order, { ...join, positions: [0] })], now: T0 + 10 });
          expect(done.runs.map((r) => [r.inputIds, r.correlationId])).toEqual([[[order.id, shipment.id], 'sales']]);
        }),
      );

      it(
        'keeps waiting entries in order however many queue up on one side',
        withStore(async (store, f) => {
          // 150 a side: sequential units, each rewriting a gate that holds every waiting entry, which
          // took over 20 s on PostgreSQL at 300 a side on a loaded machine.
          const lefts = Array.from({ length: 150 }, () => f.artifact({ type: 'Left' }));
          for (const left of lefts) await store.publish({ writes: [f.deposit(left, { ...andGate(), positions: [0] })], now: T0 });
          const inputs: string[][] = [];
          for (let i = 0; i < lefts.length; i++) {
            const result = await store.publish({ writes: [f.deposit(f.artifact({ type: 'Right' }), { ...andGate(), positions: [1] })], now: T0 });
            inputs.push(...result.runs.map((r) => [...r.inputIds]));
          }
          expect(inputs.map((ids) => ids[0])).toEqual(lefts.map((a) => a.id));
          expect(await store.listGates()).toEqual([]);
        }),
        120_000,
      );

      it(
        'flushes a batch when it reaches its size, without a deadline left behind',
        withStore(async (store, f) => {
          const batch = { key: gateKey('sum', 0, { correlationId: 'wf1' }), agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 2, windowMs: 100 } as const;
          const a = f.artifact();
          const b = f.artifact();
          await store.publish({ writes: [f.deposit(a, { ...batch, positions: [0] })], now: T0 });
          expect(await store.nextDeadline()).toBe(T0 + 100);
          const result = await store.publish({ writes: [f.deposit(b, { ...batch, positions: [0] })], now: T0 + 1 });
          expect(result.runs.map((r) => r.inputIds)).toEqual([[a.id, b.id]]);
          expect(await store.nextDeadline()).toBeUndefined();
          expect((await store.pending()).timedGates).toBe(0);
        }),
      );

      it(
        'hands out a due batch and flushes it into a run exactly once, guarded by the gate version',
        withStore(async (store, f) => {
          const batch = { key: gateKey('sum', 0, { correlationId: 'wf1' }), agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 10, windowMs: 100 } as const;
          const a = f.artifact();
          await store.publish({ writes: [f.deposit(a, { ...batch, positions: [0] })], now: T0 });
          expect(await store.dueGates(T0 + 99, 10)).toEqual([]);
          const [due] = await store.dueGates(T0 + 100, 10);
          expect(due?.key).toBe(batch.key);
          const close = { key: due!.key, version: due!.version, run: f.run([a], { agent: 'sum' }) };
          const flushed = await store.publish({ writes: [], closeGates: [close], now: T0 + 100 });
          expect(flushed.runs.map((r) => r.inputIds)).toEqual([[a.id]]);
          // A second process that saw the same due gate: its close changes nothing.
          expect((await store.publish({ writes: [], closeGates: [{ ...close, run: f.run([a], { agent: 'sum' }) }], now: T0 + 100 })).status).toBe('conflict');
          expect(await store.listRuns({ agent: 'sum' })).toHaveLength(1);
        }),
      );

      it(
        'refuses to close a due gate that changed since it was read, applying none of the unit',
        withStore(async (store, f) => {
          const batch = { key: gateKey('sum', 0, { correlationId: 'wf1' }), agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 10, windowMs: 100 } as const;
          await store.publish({ writes: [f.deposit(f.artifact(), { ...batch, positions: [0] })], now: T0 });
          const [due] = await store.dueGates(T0 + 100, 10);
          await store.publish({ writes: [f.deposit(f.artifact(), { ...batch, positions: [0] })], now: T0 + 100 });
          const fact = f.scheduled();
          const result = await store.publish({ writes: [fact], closeGates: [{ key: due!.key, version: due!.version }], now: T0 + 100 });
          expect(result.status).toBe('conflict');
          expect(await store.getArtifacts([fact.artifact.id])).toEqual([undefined]);
        }),
      );

      it(
        'expires only the join entries whose window passed',
        withStore(async (store, f) => {
          const join = { key: gateKey('ship', 0, { joinKey: 'k' }), agent: 'ship', subscription: 0, kind: 'join', typeNames: ['Order', 'Shipment'], joinKey: 'k', windowMs: 100 } as const;
          const old = f.artifact({ type: 'Order' });
          const young = f.artifact({ type: 'Order' });
          await store.publish({ writes: [f.deposit(old, { ...join, positions: [0] })], now: T0 });
          await store.publish({ writes: [f.deposit(young, { ...join, positions: [0] })], now: T0 + 50 });
          const [due] = await store.dueGates(T0 + 100, 10);
          await store.publish({ writes: [], closeGates: [{ key: due!.key, version: due!.version }], now: T0 + 100 });
          const [left] = await store.listGates();
          expect(left?.slots[0]?.map((e) => e.artifactId)).toEqual([young.id]);
          expect(left?.deadline).toBe(T0 + 150);
        }),
      );

      it(
        'uses gate keys without NUL characters that never collide across their parts',
        withStore(async (store) => {
          expect(await store.listGates()).toEqual([]);
          const keys = [gateKey('a/1', 0, { correlationId: 'b' }), gateKey('a', 1, { correlationId: '0/b' }), gateKey('a', 0, { joinKey: 'b' }), gateKey('a', 0, 'board')];
          expect(new Set(keys).size).toBe(keys.length);
          for (const key of [...keys, gateKey('x\u0000y', 0, { joinKey: '\u0000' })]) expect(key).not.toContain('\u0000');
        }),
      );
    });

    describe('run limits', () => {
      it(
        'holds a workflow\'s run limit per agent across units and idle periods, reporting the first refusal once',
        withStore(async (store, f) => {
          const limited = (correlationId = 'wf1') => {
            const artifact = f.artifact({ correlationId });
            return { artifact, runs: [f.run([artifact], { runLimit: 2 })], deposits: [] };
          };
          await store.publish({ writes: [limited(), limited()], now: T0 });
          for (let run = await claimOne(store); run !== undefined; run = await claimOne(store)) {
            await store.complete(ref(run), { outcome: 'finished', outputs: [] }, T0);
          }
          expect(await store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
          const third = await store.publish({ writes: [limited()], now: T0 });
          expect(third.runs).toEqual([]);
          expect(third.limited.map((l) => [l.agent, l.correlationId, l.limit, l.first])).toEqual([['worker', 'wf1', 2, true]]);
          expect((await store.publish({ writes: [limited()], now: T0 })).limited[0]?.first).toBe(false);
          expect((await store.publish({ writes: [limited('wf2')], now: T0 })).runs).toHaveLength(1);
        }),
      );
    });

    describe('claims and leases', () => {
      it(
        'claims up to the limit, oldest first across the agents asked, each with attempt 1 and a lease',
        withStore(async (store, f) => {
          const [a, b, c] = [f.scheduled('x'), f.scheduled('y'), f.scheduled('z')];
          await store.publish({ writes: [a], now: T0 });
          await store.publish({ writes: [b], now: T0 + 1 });
          await store.publish({ writes: [c], now: T0 + 2 });
          const claimed = await store.claim({ owner: 'me', agents: ['z', 'y', 'x'], limit: 2, leaseMs: 500, now: T0 + 10 });
          expect(claimed.map((r) => [r.id, r.state, r.attempt, r.owner, r.leaseUntil])).toEqual([
            [a.runs[0]!.id, 'running', 1, 'me', T0 + 510],
            [b.runs[0]!.id, 'running', 1, 'me', T0 + 510],
          ]);
          expect((await store.claim({ owner: 'you', agents: ['x', 'y'], limit: 5, leaseMs: 500, now: T0 })).length).toBe(0);
          expect(await store.pending()).toEqual({ queued: 1, paused: 0, running: 2, timedGates: 0 });
        }),
      );

      it(
        'claims no run of a paused workflow, and hands them out in order after a resume',
        withStore(async (store, f) => {
          const [p1, a1, p2] = [f.scheduled('worker', { correlationId: 'p' }), f.scheduled(), f.scheduled('worker', { correlationId: 'p' })];
          await store.publish({ writes: [p1, a1, p2], now: T0 });
          expect((await store.setWorkflowState('p', 'paused')).previous).toBe('active');
          expect((await claimOne(store))?.id).toBe(a1.runs[0]!.id);
          expect(await claimOne(store)).toBeUndefined();
          expect(await store.pending({ correlationId: 'p' })).toEqual({ queued: 0, paused: 2, running: 0, timedGates: 0 });
          await store.setWorkflowState('p', 'active');
          expect((await claimOne(store))?.id).toBe(p1.runs[0]!.id);
          expect((await claimOne(store))?.id).toBe(p2.runs[0]!.id);
        }),
      );

      it(
        'requeues runs whose lease expired at the head of their queue, so the next claim is a new attempt',
        withStore(async (store, f) => {
          const [a, b] = [f.scheduled(), f.scheduled()];
          await store.publish({ writes: [a, b], now: T0 });
          const claimed = (await claimOne(store, 'worker', T0))!;
          expect(await store.requeueExpired(T0 + 999)).toEqual([]);
          const requeued = await store.requeueExpired(T0 + 1001);
          expect(requeued.map((r) => [r.id, r.state, r.attempt])).toEqual([[claimed.id, 'queued', 1]]);
          const again = (await claimOne(store, 'worker', T0 + 2000, 'other'))!;
          expect([again.id, again.attempt]).toEqual([claimed.id, 2]);
        }),
      );

      it(
        'requeues every run of one owner when asked by owner, whatever their lease',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled(), f.scheduled()], now: T0 });
          await claimOne(store, 'worker', T0, 'dead');
          await claimOne(store, 'worker', T0, 'alive');
          const requeued = await store.requeueExpired(T0, { owner: 'dead' });
          expect(requeued).toHaveLength(1);
          expect((await store.listRuns({ state: 'running' })).map((r) => r.owner)).toEqual(['alive']);
        }),
      );

      it(
        'renews the leases an owner holds and names those it lost',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled(), f.scheduled()], now: T0 });
          const mine = (await claimOne(store, 'worker', T0, 'me'))!;
          const theirs = (await claimOne(store, 'worker', T0, 'them'))!;
          expect(await store.renewLeases('me', [mine.id, theirs.id, 'gone'], 5000, T0 + 500)).toEqual([theirs.id, 'gone']);
          expect(await store.requeueExpired(T0 + 2000)).toHaveLength(1);
          expect((await store.listRuns({ state: 'running' })).map((r) => [r.id, r.leaseUntil])).toEqual([[mine.id, T0 + 5500]]);
        }),
      );
    });

    describe('the completion unit', () => {
      it(
        'finishes a claimed run with its outputs and the runs they schedule, in one unit',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled()], now: T0 });
          const run = (await claimOne(store))!;
          const out = f.output(0, {}, 'next');
          const result = await store.complete(ref(run), { outcome: 'finished', outputs: [out] }, T0 + 5);
          expect(result.status).toBe('applied');
          expect(result.runs.map((r) => [r.agent, r.inputIds])).toEqual([['next', [out.artifact.id]]]);
          expect(await store.listRuns({ agent: 'worker' })).toEqual([]);
          expect(await store.getArtifacts([out.artifact.id])).toEqual([out.artifact]);
        }),
      );

      it(
        'applies nothing when the claim was lost, and says so',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled()], now: T0 });
          const first = (await claimOne(store, 'worker', T0, 'slow'))!;
          await store.requeueExpired(T0 + 5000);
          const second = (await claimOne(store, 'worker', T0 + 5000, 'fast'))!;
          const late = f.output(0);
          expect((await store.complete(ref(first), { outcome: 'finished', outputs: [late] }, T0 + 6000)).status).toBe('lost');
          expect((await store.emit(ref(first), [late], T0 + 6000)).status).toBe('lost');
          expect(await store.getArtifacts([late.artifact.id])).toEqual([undefined]);
          expect((await store.complete({ ...ref(second), owner: 'slow' }, { outcome: 'cancelled' }, T0)).status).toBe('lost');
          expect((await store.complete(ref(second), { outcome: 'finished', outputs: [] }, T0 + 6000)).status).toBe('applied');
        }),
      );

      it(
        'never applies an output twice when a run is executed again after its lease expired',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled()], now: T0 });
          const first = (await claimOne(store))!;
          const yielded = f.output(0, {}, 'next');
          await store.emit(ref(first), [yielded], T0);
          expect((await store.emit(ref(first), [{ ...f.output(0), index: 0 }], T0)).duplicates).toBe(1);
          await store.requeueExpired(T0 + 5000);
          const second = (await claimOne(store, 'worker', T0 + 5000))!;
          const again = f.output(0, {}, 'next');
          const last = f.output(1, {}, 'next');
          const result = await store.complete(ref(second), { outcome: 'finished', outputs: [again, last] }, T0 + 5000);
          expect(result.duplicates).toBe(1);
          expect(await store.getArtifacts([again.artifact.id, last.artifact.id])).toEqual([undefined, last.artifact]);
          expect((await store.listRuns({ agent: 'next' })).map((r) => r.inputIds[0])).toEqual([yielded.artifact.id, last.artifact.id]);
        }),
      );

      it(
        'records a failure\'s fact and dead letter in the same unit, and replays the letter as a new run',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled()], now: T0 });
          const run = (await claimOne(store))!;
          const fact = f.scheduled('medic', { type: 'AgentFailed', producedBy: 'board' });
          const deadLetter = { id: 'd1', run, error: { name: 'Error', message: 'boom' }, attempts: 3, failedAt: new Date(T0).toISOString() };
          expect((await store.complete(ref(run), { outcome: 'failed', fact, deadLetter }, T0)).runs.map((r) => r.agent)).toEqual(['medic']);
          expect(await store.listDeadLetters({ agent: 'worker' })).toEqual([deadLetter]);
          expect(await store.listRuns({ agent: 'worker' })).toEqual([]);
          const replay = await store.replayDeadLetter('d1', { ...f.run([], { inputIds: run.inputIds }), replayOf: 'd1' }, T0);
          expect(replay?.replayOf).toBe('d1');
          expect(await store.listDeadLetters()).toEqual([]);
          expect(await store.replayDeadLetter('d1', f.run([]), T0)).toBeUndefined();
        }),
      );

      it(
        'hands a released run back to the head of its queue',
        withStore(async (store, f) => {
          const [a, b] = [f.scheduled(), f.scheduled()];
          await store.publish({ writes: [a, b], now: T0 });
          const run = (await claimOne(store))!;
          await store.complete(ref(run), { outcome: 'released' }, T0);
          const again = (await claimOne(store))!;
          expect([again.id, again.attempt]).toEqual([a.runs[0]!.id, 2]);
        }),
      );

      it(
        'ends a run of a cancelled workflow without applying its outputs',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled()], now: T0 });
          const run = (await claimOne(store))!;
          await store.setWorkflowState('wf1', 'cancelled');
          const out = f.output(0, {}, 'next');
          expect((await store.complete(ref(run), { outcome: 'finished', outputs: [out] }, T0)).status).toBe('cancelled');
          expect(await store.getArtifacts([out.artifact.id])).toEqual([undefined]);
          expect(await store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
        }),
      );
    });

    describe('the batched completion unit (completeMany)', () => {
      const completeMany = async (store: BoardStore, items: Parameters<NonNullable<BoardStore['completeMany']>>[0], now: number) => {
        expect(typeof store.completeMany, 'the store implements completeMany').toBe('function');
        const settled = await store.completeMany!(items, now);
        expect(settled).toHaveLength(items.length);
        return settled;
      };
      const valueOf = (outcome: PromiseSettledResult<UnitResult>): UnitResult => {
        if (outcome.status === 'rejected') throw new Error('expected the item to be applied', { cause: outcome.reason });
        return outcome.value;
      };
      const statusOf = (outcome: PromiseSettledResult<UnitResult>) => (outcome.status === 'fulfilled' ? outcome.value.status : 'rejected');

      it(
        'ends each run under its own claim: a lost item among applied ones changes nothing, the others apply in order',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled(), f.scheduled(), f.scheduled()], now: T0 });
          const slow = (await claimOne(store, 'worker', T0, 'slow'))!;
          await store.requeueExpired(T0 + 5000);
          const [again, second, third] = await store.claim({ owner: 'me', agents: ['worker'], limit: 3, leaseMs: 1000, now: T0 + 5000 });
          expect(again!.id).toBe(slow.id);
          const [late, out2, out3] = [f.output(0, {}, 'next'), f.output(0, {}, 'next'), f.output(0, {}, 'next')];
          const settled = await completeMany(
            store,
            [
              { claim: ref(second!), completion: { outcome: 'finished', outputs: [out2] } },
              { claim: ref(slow), completion: { outcome: 'finished', outputs: [late] } },
              { claim: ref(third!), completion: { outcome: 'finished', outputs: [out3] } },
            ],
            T0 + 5001,
          );
          expect(settled.map(statusOf)).toEqual(['applied', 'lost', 'applied']);
          const runsOf = (outcome: PromiseSettledResult<UnitResult>) => (outcome.status === 'fulfilled' ? outcome.value.runs.map((r) => [r.agent, r.inputIds, r.enqueuedAt]) : []);
          expect(runsOf(settled[0]!)).toEqual([['next', [out2.artifact.id], T0 + 5001]]);
          expect(runsOf(settled[1]!)).toEqual([]);
          expect(runsOf(settled[2]!)).toEqual([['next', [out3.artifact.id], T0 + 5001]]);
          expect(await store.getArtifacts([out2.artifact.id, late.artifact.id, out3.artifact.id])).toEqual([out2.artifact, undefined, out3.artifact]);
          // The run whose claim was lost is still running under its new claim, which can end it.
          expect((await store.listRuns({ agent: 'worker' })).map((r) => [r.id, r.owner, r.attempt])).toEqual([[again!.id, 'me', 2]]);
          expect((await store.complete(ref(again!), { outcome: 'finished', outputs: [] }, T0 + 5002)).status).toBe('applied');
          expect((await store.listRuns({ agent: 'next' })).map((r) => r.inputIds[0])).toEqual([out2.artifact.id, out3.artifact.id]);
        }),
      );

      it(
        'lets a later item see an earlier one\'s gate deposit, and rejects an item whose writes conflict without touching the others',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled(), f.scheduled(), f.scheduled(), f.scheduled()], now: T0 });
          const [a, b, c, d] = await store.claim({ owner: 'me', agents: ['worker'], limit: 4, leaseMs: 1000, now: T0 });
          const stored = f.scheduled();
          await store.publish({ writes: [stored], now: T0 });
          const left = { ...f.deposit(f.artifact({ type: 'Left', producedBy: 'worker' }), { ...andGate(), positions: [0] }), index: 0 };
          const right = { ...f.deposit(f.artifact({ type: 'Right', producedBy: 'worker' }), { ...andGate(), positions: [1] }), index: 0 };
          // c repeats an artifact id already stored (found inside the unit); d names a position the gate lacks (found before it).
          const repeated: OutputWrite = { index: 0, artifact: stored.artifact, runs: [], deposits: [] };
          const badPosition = { ...f.deposit(f.artifact({ type: 'Left', producedBy: 'worker' }), { ...andGate(), positions: [5] }), index: 0 };
          const settled = await completeMany(
            store,
            [
              { claim: ref(a!), completion: { outcome: 'finished', outputs: [left] } },
              { claim: ref(c!), completion: { outcome: 'finished', outputs: [repeated] } },
              { claim: ref(d!), completion: { outcome: 'finished', outputs: [badPosition] } },
              { claim: ref(b!), completion: { outcome: 'finished', outputs: [right] } },
            ],
            T0 + 1,
          );
          expect(settled.map(statusOf)).toEqual(['applied', 'rejected', 'rejected', 'applied']);
          expect(valueOf(settled[0]!).runs).toEqual([]);
          expect(valueOf(settled[3]!).runs.map((r) => [r.agent, r.inputIds])).toEqual([['pair', [left.artifact.id, right.artifact.id]]]);
          expect(await store.listGates()).toEqual([]);
          // The rejected items applied nothing: their runs still run under their claims, their outputs are not stored.
          expect((await store.listRuns({ agent: 'worker', state: 'running' })).map((r) => r.id).sort()).toEqual([c!.id, d!.id].sort());
          expect(await store.getArtifacts([badPosition.artifact.id])).toEqual([undefined]);
          expect((await store.list({ type: 'Note' })).filter((x) => x.id === stored.artifact.id)).toHaveLength(1);
          expect((await store.complete(ref(c!), { outcome: 'finished', outputs: [] }, T0 + 2)).status).toBe('applied');
        }),
      );

      it(
        'writes the facts and dead letters of failed items, and ends cancelled, released and finished ones, in one call',
        withStore(async (store, f) => {
          await store.publish({ writes: [f.scheduled(), f.scheduled(), f.scheduled(), f.scheduled('worker', { correlationId: 'doomed' })], now: T0 });
          const [a, b, c, doomed] = await store.claim({ owner: 'me', agents: ['worker'], limit: 4, leaseMs: 1000, now: T0 });
          await store.setWorkflowState('doomed', 'cancelled');
          const factA = f.scheduled('medic', { type: 'AgentFailed', producedBy: 'board' });
          const letterA = { id: 'dA', run: a!, error: { name: 'Error', message: 'boom' }, attempts: 3, failedAt: new Date(T0).toISOString() };
          const out = f.output(0, {}, 'next');
          const lostCause = f.output(0, { correlationId: 'doomed' }, 'next');
          const settled = await completeMany(
            store,
            [
              { claim: ref(a!), completion: { outcome: 'failed', fact: factA, deadLetter: letterA } },
              { claim: ref(b!), completion: { outcome: 'released' } },
              { claim: ref(doomed!), completion: { outcome: 'finished', outputs: [lostCause] } },
              { claim: ref(c!), completion: { outcome: 'finished', outputs: [out] } },
            ],
            T0 + 1,
          );
          expect(settled.map(statusOf)).toEqual(['applied', 'applied', 'cancelled', 'applied']);
          expect(valueOf(settled[0]!).runs.map((r) => r.agent)).toEqual(['medic']);
          expect(await store.listDeadLetters()).toEqual([letterA]);
          expect(await store.getArtifacts([factA.artifact.id, lostCause.artifact.id, out.artifact.id])).toEqual([factA.artifact, undefined, out.artifact]);
          expect((await store.listRuns({ agent: 'worker' })).map((r) => [r.id, r.state])).toEqual([[b!.id, 'queued']]);
          expect(await store.pending()).toEqual({ queued: 3, paused: 0, running: 0, timedGates: 0 });
        }),
      );
    });

    describe('workflows', () => {
      it(
        'cancels a workflow with its queued runs and gate entries in one unit, leaving other workflows alone',
        withStore(async (store, f) => {
          const join = { key: gateKey('ship', 0, { joinKey: 'k' }), agent: 'ship', subscription: 0, kind: 'join', typeNames: ['Order', 'Shipment'], joinKey: 'k', windowMs: 100 } as const;
          const mine = f.artifact({ type: 'Order', correlationId: 'doomed' });
          const theirs = f.artifact({ type: 'Order', correlationId: 'other' });
          await store.publish({ writes: [f.scheduled('worker', { correlationId: 'doomed' }), f.scheduled('worker', { correlationId: 'other' })], now: T0 });
          await store.publish({ writes: [f.deposit(mine, { ...join, positions: [0] }), f.deposit(theirs, { ...join, positions: [0] })], now: T0 });
          const change = await store.setWorkflowState('doomed', 'cancelled');
          expect([change.previous, change.dropped.map((r) => r.correlationId)]).toEqual(['active', ['doomed']]);
          expect((await store.listGates())[0]?.slots[0]?.map((e) => e.artifactId)).toEqual([theirs.id]);
          expect(await store.pending({ correlationId: 'doomed' })).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
          expect((await store.setWorkflowState('doomed', 'active')).previous).toBe('cancelled');
          expect(await store.getWorkflowState('doomed')).toBe('cancelled');
          expect(await store.listWorkflowStates()).toEqual([{ correlationId: 'doomed', state: 'cancelled' }]);
          expect(await store.getWorkflowState('never-seen')).toBe('active');
        }),
      );

      it(
        'answers what is pending, board-wide and per workflow',
        withStore(async (store, f) => {
          const batch = { key: gateKey('sum', 0, { correlationId: 'b' }), agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 5, windowMs: 100 } as const;
          await store.publish({ writes: [f.scheduled('worker', { correlationId: 'a' }), f.scheduled('worker', { correlationId: 'a' })], now: T0 });
          await store.publish({ writes: [f.deposit(f.artifact({ correlationId: 'b' }), { ...batch, positions: [0] })], now: T0 });
          await claimOne(store);
          expect(await store.pending()).toEqual({ queued: 1, paused: 0, running: 1, timedGates: 1 });
          expect(await store.pending({ correlationId: 'a' })).toEqual({ queued: 1, paused: 0, running: 1, timedGates: 0 });
          expect(await store.pending({ correlationId: 'b' })).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 1 });
        }),
      );
    });

    describeOptionalContract(withStore);
    describeAdmissionContract(withStore);
    describeWindowContract(withStore);
    describeJoinedBatchContract(withStore);
    describeEmbargoContract(withStore);
  });
}

