/**
 * The store contract's admission control (`admitWorkflow`, `releaseWorkflowAdmission`,
 * `admittedWorkflows`), described by `describeStoreContract` for every store.
 */
import { describe, expect, it } from 'vitest';
import { gateKey } from '../store/gate-state.js';
import type { AdmissionRequest, BoardStore, ClaimRef } from '../store/contract.js';
import { T0, type Fixtures } from './store-contract-fixtures.js';

type WithStore = (test: (store: BoardStore, f: Fixtures) => Promise<void>) => () => Promise<void>;
type AdmittingStore = Required<Pick<BoardStore, 'admitWorkflow' | 'releaseWorkflowAdmission' | 'admittedWorkflows'>>;

const RESERVE_MS = 1_000;

/** The request of workflow `id` (its input's id is `in-<id>`). */
const ask = (id: string, max: number, now = T0): AdmissionRequest => ({ correlationId: id, inputId: `in-${id}`, max, reserveMs: RESERVE_MS, now });

/** The admission tests, with the suite's `withStore`. */
export function describeAdmissionContract(withStore: WithStore): void {
  describe('admission control', () => {
    const admitting = (store: BoardStore) => store as unknown as AdmittingStore;
    /** Stores workflow `id`'s input with one run of `worker`. */
    const startInput = (store: BoardStore, f: Fixtures, id: string, now = T0) => store.publish({ writes: [{ ...f.scheduled('worker', { id: `in-${id}`, correlationId: id }) }], now });
    const finishAll = async (store: BoardStore, now: number) => {
      const claimed = await store.claim({ owner: 'me', agents: ['worker'], limit: 100, leaseMs: 10_000, now });
      for (const run of claimed) {
        const ref: ClaimRef = { runId: run.id, owner: 'me', attempt: run.attempt };
        await store.complete(ref, { outcome: 'finished', outputs: [] }, now);
      }
    };

    it(
      'admits up to max workflows, refuses the next, and admits again a workflow that holds a place',
      withStore(async (store) => {
        const s = admitting(store);
        expect(await s.admitWorkflow(ask('w1', 2))).toEqual({ admitted: true, active: 1 });
        expect(await s.admitWorkflow(ask('w2', 2))).toEqual({ admitted: true, active: 2 });
        const refused = await s.admitWorkflow(ask('w3', 2));
        expect(refused).toMatchObject({ admitted: false, active: 2 });
        expect(refused.retryAt).toBe(T0 + RESERVE_MS); // when the reservations lapse, inputs not being stored
        expect(await s.admitWorkflow(ask('w1', 2))).toMatchObject({ admitted: true, active: 2 });
        expect(await s.admittedWorkflows(T0)).toBe(2);
      }),
    );

    it(
      'holds a place while the input is not stored only until the reservation lapses',
      withStore(async (store) => {
        const s = admitting(store);
        await s.admitWorkflow(ask('w1', 1));
        expect((await s.admitWorkflow(ask('w2', 1, T0 + RESERVE_MS - 1))).admitted).toBe(false);
        expect(await s.admitWorkflow(ask('w2', 1, T0 + RESERVE_MS))).toEqual({ admitted: true, active: 1 });
        expect(await s.admittedWorkflows(T0 + RESERVE_MS)).toBe(1);
      }),
    );

    it(
      'keeps a place while the workflow has runs queued or running, and frees it when they end, whoever ends them',
      withStore(async (store, f) => {
        const s = admitting(store);
        await s.admitWorkflow(ask('w1', 1));
        await startInput(store, f, 'w1');
        const later = T0 + 10 * RESERVE_MS; // the reservation lapsed: the runs hold the place
        expect((await s.admitWorkflow(ask('w2', 1, later))).admitted).toBe(false);
        const [run] = await store.claim({ owner: 'other-board', agents: ['worker'], limit: 1, leaseMs: 10_000, now: later });
        expect((await s.admitWorkflow(ask('w2', 1, later))).admitted).toBe(false); // running counts
        expect(await s.admittedWorkflows(later)).toBe(1);
        await store.complete({ runId: run!.id, owner: 'other-board', attempt: run!.attempt }, { outcome: 'finished', outputs: [] }, later);
        expect(await s.admittedWorkflows(later)).toBe(0);
        expect(await s.admitWorkflow(ask('w2', 1, later))).toEqual({ admitted: true, active: 1 });
      }),
    );

    it(
      'frees the place of a cancelled workflow, and counts a paused one',
      withStore(async (store, f) => {
        const s = admitting(store);
        await s.admitWorkflow(ask('paused', 2));
        await startInput(store, f, 'paused');
        await s.admitWorkflow(ask('doomed', 2));
        await startInput(store, f, 'doomed');
        const later = T0 + 10 * RESERVE_MS;
        await store.setWorkflowState('paused', 'paused');
        expect(await s.admittedWorkflows(later)).toBe(2);
        await store.setWorkflowState('doomed', 'cancelled');
        expect(await s.admittedWorkflows(later)).toBe(1);
        expect(await s.admitWorkflow(ask('next', 2, later))).toEqual({ admitted: true, active: 2 });
      }),
    );

    it(
      'keeps a place while an artifact of the workflow waits in a gate with a deadline',
      withStore(async (store, f) => {
        const s = admitting(store);
        const batch = { key: gateKey('sum', 0, { correlationId: 'w1' }), agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 5, windowMs: 100 } as const;
        await s.admitWorkflow(ask('w1', 1));
        await store.publish({ writes: [f.deposit(f.artifact({ id: 'in-w1', correlationId: 'w1' }), { ...batch, positions: [0] })], now: T0 });
        const later = T0 + 10 * RESERVE_MS;
        expect(await s.admittedWorkflows(later)).toBe(1);
        expect((await s.admitWorkflow(ask('w2', 1, later))).admitted).toBe(false);
        const [gate] = await store.dueGates(later, 1);
        await store.publish({ writes: [], closeGates: [{ key: gate!.key, version: gate!.version }], now: later });
        expect((await s.admitWorkflow(ask('w2', 1, later))).admitted).toBe(true);
      }),
    );

    it(
      'keeps a place while an artifact of the workflow is held under embargo, and frees it once released',
      withStore(async (store, f) => {
        const s = admitting(store);
        await s.admitWorkflow(ask('w1', 1));
        const held = f.artifact({ id: 'in-w1', correlationId: 'w1' });
        await store.publish({ writes: [{ artifact: held, runs: [], deposits: [], embargoUntil: T0 + 100 * RESERVE_MS }], now: T0 });
        const later = T0 + 10 * RESERVE_MS; // the reservation lapsed and the input is not stored yet: the embargo holds the place
        expect(await s.admittedWorkflows(later)).toBe(1);
        expect((await s.admitWorkflow(ask('w2', 1, later))).admitted).toBe(false);
        expect(await s.releaseWorkflowAdmission('w1')).toBe(false); // the held input is stored work, not a reservation
        const released = T0 + 100 * RESERVE_MS;
        await store.publish({ writes: [{ artifact: held, runs: [], deposits: [] }], releases: [held.id], now: released });
        expect(await s.admittedWorkflows(released)).toBe(0); // stored with no run: the workflow has ended
        expect(await s.admitWorkflow(ask('w2', 1, released))).toEqual({ admitted: true, active: 1 });
      }),
    );

    it(
      'gives back a place only while its input is not stored',
      withStore(async (store, f) => {
        const s = admitting(store);
        await s.admitWorkflow(ask('gave-up', 2));
        expect(await s.releaseWorkflowAdmission('gave-up')).toBe(true);
        expect(await s.releaseWorkflowAdmission('gave-up')).toBe(false);
        expect(await s.releaseWorkflowAdmission('never-admitted')).toBe(false);
        await s.admitWorkflow(ask('started', 2));
        await startInput(store, f, 'started');
        expect(await s.releaseWorkflowAdmission('started')).toBe(false);
        expect(await s.admittedWorkflows(T0)).toBe(1);
        await finishAll(store, T0);
        expect(await s.admittedWorkflows(T0)).toBe(0);
      }),
    );

    it(
      'never admits more than max however many ask at once',
      withStore(async (store) => {
        const s = admitting(store);
        const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => s.admitWorkflow(ask(`w${i}`, 5))));
        expect(answers.filter((answer) => answer.admitted)).toHaveLength(5);
        expect(await s.admittedWorkflows(T0)).toBe(5);
      }),
    );

    it(
      'refuses bad requests with a TypeError or RangeError naming the field',
      withStore(async (store) => {
        const s = admitting(store);
        await expect(async () => s.admitWorkflow({ ...ask('w', 1), max: 0 })).rejects.toThrow(/max/);
        await expect(async () => s.admitWorkflow({ ...ask('w', 1), correlationId: '' })).rejects.toThrow(TypeError);
        await expect(async () => s.admitWorkflow({ ...ask('w', 1), reserveMs: -1 })).rejects.toThrow(/reserveMs/);
        expect(await s.admittedWorkflows(T0)).toBe(0);
      }),
    );
  });
}
