import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, MemoryStore, artifactType, type Artifact } from 'skein/board';
import { gateKey } from 'skein/board/store';

const Job = artifactType('Job', z.object({ n: z.number() }));
const Line = artifactType('Line', z.string());

afterEach(() => {
  vi.useRealTimers();
});

let next = 0;
function artifact<T>(type: string, payload: T, correlationId: string): Artifact<T> {
  next++;
  return {
    id: `old-${next}`,
    type,
    payload,
    producedBy: 'external',
    correlationId,
    tags: [],
    visibility: { kind: 'public' },
    createdAt: new Date(0).toISOString(),
    causedBy: [],
  };
}

/** What a board that crashed mid-flight leaves in its store. */
function crashedStore(): MemoryStore {
  const store = new MemoryStore();
  const now = Date.now();
  const jobs = [1, 2, 3].map((n) => artifact('Job', { n }, n === 3 ? 'paused-wf' : 'wf'));
  const runs = jobs.map((job, i) => ({ id: `run-${i}`, agent: 'worker', subscription: 0, inputIds: [job.id], correlationId: job.correlationId }));
  store.publish({ writes: jobs.map((job, i) => ({ artifact: job, runs: [runs[i]!], deposits: [] })), now });
  store.claim({ owner: 'dead-board', agents: ['worker'], limit: 1, leaseMs: 60_000, now }); // run-0 was running when the process died
  store.setWorkflowState('paused-wf', 'paused');
  const batch = { key: gateKey('batcher', 0, { correlationId: 'wf' }), agent: 'batcher', subscription: 0, kind: 'batch', typeNames: ['Line'], positions: [0], batchSize: 10, windowMs: 1_000 } as const;
  const lines = ['a', 'b'].map((text) => artifact('Line', text, 'wf'));
  store.publish({ writes: lines.map((line, i) => ({ artifact: line, runs: [], deposits: [{ ...batch, artifactId: line.id, correlationId: 'wf', runId: `gate-run-${i}` }] })), now });
  const doomed = artifact('Job', { n: 9 }, 'cancelled-wf');
  store.publish({ writes: [{ artifact: doomed, runs: [{ id: 'run-doomed', agent: 'worker', subscription: 0, inputIds: [doomed.id], correlationId: 'cancelled-wf' }], deposits: [] }], now });
  store.setWorkflowState('cancelled-wf', 'cancelled');
  store.publish({ writes: [], runs: [{ id: 'run-elsewhere', agent: 'not-on-this-board', subscription: 0, inputIds: [jobs[0]!.id], correlationId: 'wf' }], now });
  return store;
}

describe('resume', () => {
  it('picks up a crashed board\'s work: runs left running run again, queued ones run, batches get their timers back', async () => {
    vi.useFakeTimers();
    const store = crashedStore();
    await using board = new Board({ store });
    const ran: number[] = [];
    const batches: string[][] = [];
    board.agent('worker').consumes(Job).handle(([job]) => void ran.push(job.payload.n));
    board.agent('batcher').consumes(Line, { batch: { size: 10, timeoutMs: 1_000 } }).handle((lines) => void batches.push(lines.map((l) => l.payload)));
    expect(await board.resume()).toEqual({ requeued: 1, queued: 3, gates: 1 });
    await vi.advanceTimersByTimeAsync(1_000);
    await board.runUntilIdle();
    expect(ran).toEqual([1, 2]); // the paused workflow waits, the cancelled one's run was dropped
    expect(batches).toEqual([['a', 'b']]);
    expect(board.workflow('paused-wf').state).toBe('paused');
    await board.workflow('paused-wf').resume();
    await board.runUntilIdle();
    expect(ran).toEqual([1, 2, 3]);
    expect(store.listRuns()).toMatchObject([{ id: 'run-elsewhere' }]); // not this board's agent
    await expect(board.publish(Job, { n: 0 }, { correlationId: 'cancelled-wf' })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('runs only once, before anything else', async () => {
    await using board = new Board();
    board.agent('worker').consumes(Job).handle(() => {});
    await board.resume();
    await expect(board.resume()).rejects.toThrow(/once/);
    await using busy = new Board();
    busy.agent('worker').consumes(Job).handle(() => {});
    await busy.publish(Job, { n: 1 });
    await expect(busy.resume()).rejects.toThrow(/before publishing/);
  });
});
