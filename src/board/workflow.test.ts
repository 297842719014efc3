import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';

/** CancelledError's name, after the DOM's. */
const CancelledErrorName = 'AbortError';

const Step = artifactType('Step', z.object({ wf: z.string(), n: z.number() }));
const Line = artifactType('Line', z.string());

afterEach(() => {
  vi.useRealTimers();
});

function held() {
  const waiting: (() => void)[] = [];
  return {
    wait: () => new Promise<void>((resolve) => waiting.push(resolve)),
    releaseAll: () => waiting.splice(0).forEach((resolve) => resolve()),
    get count() {
      return waiting.length;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('workflows', () => {
  it('awaits one workflow while another is still running', async () => {
    await using board = new Board();
    const gate = held();
    board.agent('worker').consumes(Step).maxConcurrency(4).handle(async ([s]) => {
      if (s.payload.wf === 'slow') await gate.wait();
    });
    await board.publish(Step, { wf: 'slow', n: 1 }, { correlationId: 'slow' });
    await board.publish(Step, { wf: 'fast', n: 1 }, { correlationId: 'fast' });
    await board.workflow('fast').done();
    expect(board.stats().agents.worker).toMatchObject({ done: 1, running: 1 });
    gate.releaseAll();
    await board.workflow('slow').done();
    await board.workflow('never-started').done();
  });

  it('cancels one workflow (queued runs dropped, running ones aborted, later publishes refused) while the others finish', async () => {
    await using board = new Board();
    const gate = held();
    const aborted: string[] = [];
    board.agent('worker').maxConcurrency(2).consumes(Step).handle(
      (inputs, ctx) =>
        new Promise<void>((resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.push(`${inputs[0].payload.wf}${inputs[0].payload.n}`);
            reject(ctx.signal.reason);
          });
          void gate.wait().then(resolve);
        }),
    );
    for (let n = 1; n <= 3; n++) await board.publish(Step, { wf: 'a', n }, { correlationId: 'a' });
    await board.publish(Step, { wf: 'b', n: 1 }, { correlationId: 'b' });
    await tick();
    expect(board.stats().agents.worker).toMatchObject({ running: 2, queued: 2 });
    const doneA = board.workflow('a').done();
    await board.workflow('a').cancel();
    await expect(doneA).rejects.toMatchObject({ name: CancelledErrorName });
    expect(board.workflow('a').state).toBe('cancelled');
    expect(aborted.sort()).toEqual(['a1', 'a2']);
    await expect(board.publish(Step, { wf: 'a', n: 9 }, { correlationId: 'a' })).rejects.toMatchObject({ name: CancelledErrorName });
    await expect(board.workflow('a').done()).rejects.toMatchObject({ name: CancelledErrorName });
    await tick();
    gate.releaseAll();
    await board.runUntilIdle();
    expect(board.stats().agents.worker).toMatchObject({ done: 1, cancelled: 3, failed: 0, queued: 0, running: 0 });
    await board.workflow('a').cancel(); // idempotent
  });

  it('gives a run that first reads its signal after the cancel an aborted signal', async () => {
    await using board = new Board();
    const gate = held();
    let aborted: boolean | undefined;
    board.agent('late').consumes(Step).handle(async (_inputs, ctx) => {
      await gate.wait();
      aborted = ctx.signal.aborted;
    });
    await board.publish(Step, { wf: 'w', n: 1 }, { correlationId: 'w' });
    await tick();
    const cancelling = board.workflow('w').cancel();
    gate.releaseAll();
    await cancelling;
    expect(aborted).toBe(true);
  });

  it('discards the open batches of a cancelled workflow and clears their timers', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('batcher').consumes(Line, { batch: { size: 10, timeoutMs: 1_000 } }).handle((lines) => void batches.push(lines.map((l) => l.payload)));
    await board.publish(Line, 'doomed', { correlationId: 'x' });
    await board.publish(Line, 'kept', { correlationId: 'y' });
    // One timer per board, armed for the earliest deadline in the store.
    expect(vi.getTimerCount()).toBe(1);
    await board.workflow('x').cancel();
    expect(await board.store.listGates({ correlationId: 'x' })).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await board.runUntilIdle();
    expect(batches).toEqual([['kept']]);
    expect(await board.store.listGates()).toEqual([]);
  });

  it('pauses one workflow: its runs wait, the others go on, and idle does not wait for it', async () => {
    await using board = new Board();
    const ran: string[] = [];
    board.agent('worker').consumes(Step).handle(([s]) => void ran.push(`${s.payload.wf}${s.payload.n}`));
    await board.workflow('p').pause();
    expect(board.workflow('p').state).toBe('paused');
    await board.publish(Step, { wf: 'p', n: 1 }, { correlationId: 'p' });
    await board.publish(Step, { wf: 'q', n: 1 }, { correlationId: 'q' });
    await board.publish(Step, { wf: 'p', n: 2 }, { correlationId: 'p' });
    await board.runUntilIdle();
    expect(ran).toEqual(['q1']);
    expect(board.stats().agents.worker?.queued).toBe(2);
    let pDone = false;
    const done = board.workflow('p').done().then(() => (pDone = true));
    await tick();
    expect(pDone).toBe(false);
    await board.workflow('p').resume();
    await done;
    await board.runUntilIdle();
    expect(ran).toEqual(['q1', 'p1', 'p2']);
    expect(board.workflow('p').state).toBe('active');
  });

  it('lets running runs of a paused workflow finish and holds its later runs', async () => {
    await using board = new Board();
    const gate = held();
    const ran: number[] = [];
    board.agent('worker').consumes(Step).handle(async ([s]) => {
      ran.push(s.payload.n);
      if (s.payload.n === 1) await gate.wait();
    });
    await board.publish(Step, { wf: 'p', n: 1 }, { correlationId: 'p' });
    await board.publish(Step, { wf: 'p', n: 2 }, { correlationId: 'p' });
    await tick();
    await board.workflow('p').pause();
    gate.releaseAll();
    await board.runUntilIdle();
    expect(ran).toEqual([1]);
    await board.workflow('p').resume();
    await board.runUntilIdle();
    expect(ran).toEqual([1, 2]);
  });

  it('lists a workflow\'s artifacts and validates wait options', async () => {
    await using board = new Board();
    await board.publish(Step, { wf: 'w', n: 1 }, { correlationId: 'w' });
    await board.publish(Step, { wf: 'v', n: 1 }, { correlationId: 'v' });
    expect((await board.workflow('w').artifacts()).map((a) => a.correlationId)).toEqual(['w']);
    expect(() => board.workflow('w').done({ timeoutMs: -1 })).toThrow(RangeError);
  });

  it('times out waiting for a workflow without affecting it', async () => {
    await using board = new Board();
    const gate = held();
    board.agent('worker').consumes(Step).handle(() => gate.wait());
    await board.publish(Step, { wf: 'w', n: 1 }, { correlationId: 'w' });
    await expect(board.workflow('w').done({ timeoutMs: 5 })).rejects.toMatchObject({ name: 'TimeoutError' });
    gate.releaseAll();
    await board.workflow('w').done();
    expect(board.stats().agents.worker?.done).toBe(1);
  });
});
