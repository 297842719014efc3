import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { TimeoutError } from 'skein';
import { Board, MemoryStore, artifactType, type BoardStore } from 'skein/board';
import { gate } from '../../test/helpers.js';

const Job = artifactType('Job', z.number());
const Done = artifactType('Done', z.number());

/** Waits (turn by turn of the event loop) until `test` holds: for state no board event announces. */
async function until(test: () => boolean | Promise<boolean>): Promise<void> {
  for (let turn = 0; !(await test()); turn++) {
    if (turn > 200_000) throw new Error('never held');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The memory store's count of admitted workflows active now. */
const admitted = (store: MemoryStore): number => store.admittedWorkflows(Date.now());

describe('maxActiveWorkflows across the boards of one store', () => {
  it('two boards sharing a memory store never have more than max workflows active together', async () => {
    const store = new MemoryStore();
    const boards = [0, 1].map(() => new Board({ store, shared: { pollMs: 5 }, maxActiveWorkflows: 3 }));
    let running = 0;
    let most = 0;
    let mostAdmitted = 0;
    for (const board of boards) {
      board
        .agent('worker')
        .consumes(Job)
        .publishes(Done)
        .maxConcurrency(10)
        .handle(async ([job]) => {
          most = Math.max(most, ++running);
          mostAdmitted = Math.max(mostAdmitted, admitted(store));
          await new Promise((resolve) => setImmediate(resolve));
          running--;
          return job.payload;
        });
    }
    const results = Array.from({ length: 40 }, (_, i) => boards[i % 2]!.start(Job, i, { requires: [Done] }).then((run) => run.result()));
    const done = await Promise.all(results);
    expect(done.map(([d]) => d.payload)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(3);
    expect(mostAdmitted).toBeLessThanOrEqual(3);
    await until(() => admitted(store) === 0);
    await Promise.all(boards.map((board) => board.shutdown()));
  });

  it('a start waiting on one board is admitted when a workflow of another board ends', async () => {
    const store = new MemoryStore();
    await using front = new Board({ store, shared: { pollMs: 5 }, maxActiveWorkflows: 1, work: false });
    await using worker = new Board({ store, shared: { pollMs: 5 }, maxActiveWorkflows: 1 });
    const held = gate();
    for (const board of [front, worker]) board.agent('worker').consumes(Job).publishes(Done).handle(async ([job], ctx) => (await held.wait(ctx.signal), job.payload));
    const first = await worker.start(Job, 1, { id: 'first', requires: [Done] });
    const second = front.start(Job, 2, { id: 'second', requires: [Done] });
    await until(() => front.stats().admission?.waiting === 1);
    expect(store.list({ type: Job })).toHaveLength(1); // the waiting start stored nothing
    held.open();
    await first.result();
    const [done] = await (await second).result({ timeoutMs: 20_000 });
    expect(done.payload).toBe(2);
  });

  it('an aborted or timed-out waiting start stores nothing and takes no place', async () => {
    const store = new MemoryStore();
    await using board = new Board({ store, maxActiveWorkflows: 1 });
    const held = gate();
    board.agent('worker').consumes(Job).publishes(Done).handle(async ([job], ctx) => (await held.wait(ctx.signal), job.payload));
    await board.start(Job, 1, { id: 'first' });
    const controller = new AbortController();
    const aborted = board.start(Job, 2, { id: 'aborted', signal: controller.signal });
    await until(() => board.stats().admission?.waiting === 1);
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    await expect(board.start(Job, 3, { id: 'late', timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError);
    expect(store.list({ type: Job }).map((job) => job.payload)).toEqual([1]);
    expect(admitted(store)).toBe(1);
    expect(board.stats().admission).toEqual({ max: 1, active: 1, waiting: 0 });
    held.open();
    await board.runUntilIdle();
    expect(await (await board.start(Job, 4, { id: 'after', requires: [Done] })).result()).toMatchObject([{ payload: 4 }]);
  });

  it('needs a store with admission control', () => {
    const store = new Proxy(new MemoryStore(), { get: (target, key) => (key === 'admitWorkflow' ? undefined : (Reflect.get(target, key) as unknown)) });
    expect(() => new Board({ store, maxActiveWorkflows: 1 })).toThrow(/admitWorkflow\(\) is missing/);
  });
});

/** The store with its admission, publish and lookup answers handed out in the order the fast-check scheduler picks. */
function scheduled(store: BoardStore, s: fc.Scheduler): BoardStore {
  const delayed = new Set(['admitWorkflow', 'releaseWorkflowAdmission', 'publish', 'getArtifacts']);
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (!delayed.has(String(key))) return (value as (...args: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => s.schedule(Promise.resolve(), String(key)).then(() => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

describe('admission under any interleaving', () => {
  it('two boards never have more than max active; every start is admitted or gave up, and one that gave up left nothing', async () => {
    const start = fc.record({ board: fc.integer({ min: 0, max: 1 }), abort: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 3 }), fc.array(start, { minLength: 1, maxLength: 7 }), async (s, max, starts) => {
        const store = new MemoryStore();
        const boards = [0, 1].map(() => new Board({ store: scheduled(store, s), shared: { pollMs: 5 }, maxActiveWorkflows: max }));
        let most = 0;
        for (const board of boards) {
          board
            .agent('worker')
            .consumes(Job)
            .publishes(Done)
            .maxConcurrency(10)
            .handle(async ([job]) => {
              most = Math.max(most, admitted(store));
              await s.schedule(Promise.resolve(), `work ${job.payload}`);
              return job.payload;
            });
        }
        const controllers = starts.map(() => new AbortController());
        const outcomes = starts.map(async (each, i) => {
          try {
            const run = await boards[each.board]!.start(Job, i, { id: `job-${i}`, requires: [Done], signal: controllers[i]!.signal });
            await run.result();
            return 'done';
          } catch (error) {
            expect((error as Error).message).toBe('gave up');
            return 'gave up';
          }
        });
        starts.forEach((each, i) => {
          if (each.abort) void s.schedule(Promise.resolve(), `abort ${i}`).then(() => controllers[i]!.abort(new Error('gave up')));
        });
        const settled = await s.waitFor(Promise.all(outcomes));
        await s.waitFor(Promise.all(boards.map((board) => board.runUntilIdle())));
        expect(most).toBeLessThanOrEqual(max);
        const stored = store
          .list({ type: Job })
          .map((job) => job.payload)
          .sort((a, b) => a - b);
        expect(stored).toEqual(settled.flatMap((outcome, i) => (outcome === 'done' ? [i] : [])));
        starts.forEach((each, i) => {
          if (!each.abort) expect(settled[i]).toBe('done');
        });
        await s.waitFor(until(() => admitted(store) === 0)); // every place was freed or given back
        await s.waitFor(Promise.all(boards.map((board) => board.shutdown())));
      }),
      { numRuns: 40 },
    );
  });
});
