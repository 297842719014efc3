/**
 * The contract test suite every board store must pass: `describeStoreContract(name, makeStore)`.
 * A SQLite or PostgreSQL store runs the same suite as the memory store, so "implements BoardStore"
 * means the same behaviour everywhere, not just the same method names.
 *
 * @example
 * ```ts no-run
 * import { describeStoreContract } from '../src/board/stores/store-contract.js';
 * describeStoreContract('SqliteStore', () => new SqliteStore(':memory:'));
 * ```
 */
import { describe, expect, it } from 'vitest';
import { artifactType, type Artifact } from '../artifact.js';
import type { BoardStore, GateRecord, RunRecord } from '../store.js';
import type { StandardSchemaV1 } from '../standard-schema.js';

const anything: StandardSchemaV1<unknown> = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };
const Note = artifactType('Note', anything);
const Task = artifactType('Task', anything);

let counter = 0;
function artifact(overrides: Partial<Artifact> = {}): Artifact {
  counter++;
  return {
    id: `a${counter}`,
    type: Note.name,
    payload: { n: counter },
    producedBy: 'external',
    correlationId: 'wf1',
    tags: [],
    visibility: { kind: 'public' },
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
    causedBy: [],
    ...overrides,
  };
}

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  counter++;
  return { id: `r${counter}`, agent: 'worker', subscription: 0, inputIds: [`a${counter}`], correlationId: 'wf1', enqueuedAt: counter, ...overrides };
}

function gate(overrides: Partial<GateRecord> = {}): GateRecord {
  counter++;
  return {
    key: `g${counter}`,
    agent: 'worker',
    subscription: 0,
    correlationId: 'wf1',
    kind: 'batch',
    slots: [[`a${counter}`]],
    openedAt: counter,
    deadline: counter + 100,
    ...overrides,
  };
}

/** Runs the store contract against stores made by `makeStore` (a fresh, empty store per test). */
export function describeStoreContract(name: string, makeStore: () => BoardStore | Promise<BoardStore>): void {
  describe(`${name} implements the store contract`, () => {
    const withStore = (test: (store: BoardStore) => Promise<void>) => async () => {
      const store = await makeStore();
      try {
        await test(store);
      } finally {
        await store.close?.();
      }
    };

    describe('artifacts', () => {
      it(
        'returns stored artifacts by id, in the order asked, and undefined for unknown ids',
        withStore(async (store) => {
          const a = artifact();
          const b = artifact();
          await store.putArtifact(a);
          await store.putArtifact(b);
          expect(await store.getArtifacts([b.id, 'nope', a.id])).toEqual([b, undefined, a]);
        }),
      );

      it(
        'refuses a second artifact with an id already stored',
        withStore(async (store) => {
          const a = artifact();
          await store.putArtifact(a);
          await expect(async () => store.putArtifact({ ...a })).rejects.toThrow();
        }),
      );

      it(
        'lists in publication order, filtered by type (or its name), correlation id, producer, since and limit',
        withStore(async (store) => {
          const a = artifact({ correlationId: 'x', producedBy: 'p' });
          const b = artifact({ type: Task.name, correlationId: 'x' });
          const c = artifact({ correlationId: 'y', producedBy: 'p' });
          for (const item of [a, b, c]) await store.putArtifact(item);
          expect(await store.list()).toEqual([a, b, c]);
          expect(await store.list({ type: Note })).toEqual([a, c]);
          expect(await store.list({ type: 'Task' })).toEqual([b]);
          expect(await store.list({ correlationId: 'x' })).toEqual([a, b]);
          expect(await store.list({ producedBy: 'p' })).toEqual([a, c]);
          expect(await store.list({ since: b.createdAt })).toEqual([b, c]);
          expect(await store.list({ since: new Date(c.createdAt) })).toEqual([c]);
          expect(await store.list({ limit: 2 })).toEqual([a, b]);
          expect(await store.list({ type: Note, producedBy: 'p', limit: 1 })).toEqual([a]);
          expect(await store.list({ limit: 0 })).toEqual([]);
        }),
      );

      it(
        'rejects a malformed query with a TypeError or RangeError',
        withStore(async (store) => {
          await expect(async () => store.list({ since: 'not a date' })).rejects.toThrow(TypeError);
          await expect(async () => store.list({ limit: -1 })).rejects.toThrow(RangeError);
          await expect(async () => store.list({ type: 42 as never })).rejects.toThrow(TypeError);
        }),
      );
    });

    describe('the run queue', () => {
      it(
        'hands out an agent\'s runs first in, first out, and nothing for an agent without runs',
        withStore(async (store) => {
          const first = run();
          const other = run({ agent: 'other' });
          const second = run();
          for (const item of [first, other, second]) await store.enqueueRun(item);
          expect(await store.claimRun('worker')).toEqual(first);
          expect(await store.claimRun('worker')).toEqual(second);
          expect(await store.claimRun('worker')).toBeUndefined();
          expect(await store.claimRun('nobody')).toBeUndefined();
          expect(await store.claimRun('other')).toEqual(other);
        }),
      );

      it(
        'counts queued and running runs by agent, workflow and state; a finished run no longer counts',
        withStore(async (store) => {
          await store.enqueueRun(run());
          await store.enqueueRun(run({ correlationId: 'wf2' }));
          await store.enqueueRun(run({ agent: 'other' }));
          const claimed = (await store.claimRun('worker'))!;
          expect(await store.countRuns()).toBe(3);
          expect(await store.countRuns({ state: 'running' })).toBe(1);
          expect(await store.countRuns({ state: 'queued' })).toBe(2);
          expect(await store.countRuns({ agent: 'worker' })).toBe(2);
          expect(await store.countRuns({ correlationId: 'wf2', state: 'queued' })).toBe(1);
          await store.finishRun(claimed.id, 'finished');
          expect(await store.countRuns({ state: 'running' })).toBe(0);
          expect(await store.countRuns()).toBe(2);
        }),
      );

      it(
        'does not hand out runs of a paused workflow, and gives them back in order on resume',
        withStore(async (store) => {
          const p1 = run({ correlationId: 'paused' });
          const a1 = run();
          const p2 = run({ correlationId: 'paused' });
          for (const item of [p1, a1, p2]) await store.enqueueRun(item);
          await store.setWorkflowState('paused', 'paused');
          expect(await store.getWorkflowState('paused')).toBe('paused');
          expect(await store.claimRun('worker')).toEqual(a1);
          expect(await store.claimRun('worker')).toBeUndefined();
          expect(await store.countRuns({ correlationId: 'paused', state: 'queued' })).toBe(2);
          await store.setWorkflowState('paused', 'active');
          expect(await store.claimRun('worker')).toEqual(p1);
          expect(await store.claimRun('worker')).toEqual(p2);
        }),
      );

      it(
        'treats an unknown workflow as active',
        withStore(async (store) => {
          expect(await store.getWorkflowState('never-seen')).toBe('active');
        }),
      );

      it(
        'removes and returns the queued runs of one workflow, or of all, leaving running runs alone',
        withStore(async (store) => {
          const running = run({ correlationId: 'gone' });
          await store.enqueueRun(running);
          await store.claimRun('worker');
          const q1 = run({ correlationId: 'gone' });
          const keep = run();
          const q2 = run({ correlationId: 'gone', agent: 'other' });
          for (const item of [q1, keep, q2]) await store.enqueueRun(item);
          const removed = await store.cancelQueuedRuns('gone');
          expect(removed.map((r) => r.id).sort()).toEqual([q1.id, q2.id].sort());
          expect(await store.countRuns({ state: 'running' })).toBe(1);
          expect((await store.cancelQueuedRuns()).map((r) => r.id)).toEqual([keep.id]);
          expect(await store.countRuns({ state: 'queued' })).toBe(0);
        }),
      );

      it(
        'includes queued runs of a paused workflow when cancelling',
        withStore(async (store) => {
          const parked = run({ correlationId: 'p' });
          await store.enqueueRun(parked);
          await store.setWorkflowState('p', 'paused');
          expect(await store.claimRun('worker')).toBeUndefined();
          expect((await store.cancelQueuedRuns('p')).map((r) => r.id)).toEqual([parked.id]);
        }),
      );
      it(
        'lists queued and running runs, filtered, queued ones in queue order',
        withStore(async (store) => {
          const a = run();
          const b = run({ agent: 'other' });
          const c = run({ correlationId: 'wf2' });
          for (const item of [a, b, c]) await store.enqueueRun(item);
          await store.claimRun('other');
          expect((await store.listRuns({ state: 'queued' })).map((r) => r.id).sort()).toEqual([a.id, c.id].sort());
          expect(await store.listRuns({ agent: 'worker' })).toEqual([a, c]);
          expect(await store.listRuns({ state: 'running' })).toEqual([b]);
          expect(await store.listRuns({ correlationId: 'wf2' })).toEqual([c]);
        }),
      );

      it(
        'puts runs left running (a crash) back at the head of their queues, in claim order',
        withStore(async (store) => {
          const first = run();
          const second = run();
          const waiting = run();
          for (const item of [first, second, waiting]) await store.enqueueRun(item);
          await store.claimRun('worker');
          await store.claimRun('worker');
          expect((await store.requeueRunning()).map((r) => r.id)).toEqual([first.id, second.id]);
          expect(await store.countRuns({ state: 'running' })).toBe(0);
          expect(await store.claimRun('worker')).toEqual(first);
          expect(await store.claimRun('worker')).toEqual(second);
          expect(await store.claimRun('worker')).toEqual(waiting);
          for (const item of [first, second, waiting]) await store.finishRun(item.id, 'finished');
          expect(await store.requeueRunning()).toEqual([]);
        }),
      );

      it(
        'lists the workflows that are not active',
        withStore(async (store) => {
          await store.setWorkflowState('p', 'paused');
          await store.setWorkflowState('c', 'cancelled');
          await store.setWorkflowState('a', 'paused');
          await store.setWorkflowState('a', 'active');
          const states = await store.listWorkflowStates();
          expect([...states].sort((x, y) => x.correlationId.localeCompare(y.correlationId))).toEqual([
            { correlationId: 'c', state: 'cancelled' },
            { correlationId: 'p', state: 'paused' },
          ]);
        }),
      );
    });

    describe('gates', () => {
      it(
        'stores, replaces, lists (by workflow) and deletes gate records',
        withStore(async (store) => {
          const one = gate();
          const two = gate({ correlationId: 'wf2', kind: 'join', joinKey: 'k', slots: [['x'], []] });
          await store.putGate(one);
          await store.putGate(two);
          expect(await store.getGate(one.key)).toEqual(one);
          const replaced = { ...one, slots: [['a', 'b']] };
          await store.putGate(replaced);
          expect(await store.getGate(one.key)).toEqual(replaced);
          expect((await store.listGates()).length).toBe(2);
          expect(await store.listGates({ correlationId: 'wf2' })).toEqual([two]);
          await store.deleteGate(one.key);
          expect(await store.getGate(one.key)).toBeUndefined();
          await store.deleteGate('never-existed');
        }),
      );
    });

    describe('dead letters', () => {
      it(
        'lists dead letters (filtered by agent and workflow, limited) and takes one out by id',
        withStore(async (store) => {
          const letter = (r: RunRecord) => ({ id: `d-${r.id}`, run: r, error: { name: 'Error', message: 'boom' }, attempts: 2, failedAt: new Date(0).toISOString() });
          const one = letter(run());
          const two = letter(run({ agent: 'other', correlationId: 'wf2' }));
          await store.addDeadLetter(one);
          await store.addDeadLetter(two);
          expect(await store.listDeadLetters()).toEqual([one, two]);
          expect(await store.listDeadLetters({ agent: 'other' })).toEqual([two]);
          expect(await store.listDeadLetters({ correlationId: 'wf1' })).toEqual([one]);
          expect(await store.listDeadLetters({ limit: 1 })).toEqual([one]);
          expect(await store.takeDeadLetter(one.id)).toEqual(one);
          expect(await store.takeDeadLetter(one.id)).toBeUndefined();
          expect(await store.listDeadLetters()).toEqual([two]);
        }),
      );
    });
  });
}
