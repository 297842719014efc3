import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { constant, fallback, retryPolicy, wrap, type Policy } from 'skein';
import { AgentFailed, Board, LoopDetected, artifactType, type BoardEvent } from 'skein/board';

const Job = artifactType('Job', z.object({ n: z.number() }));
const Result = artifactType('Result', z.object({ n: z.number() }));

afterEach(() => {
  vi.useRealTimers();
});

async function drain(events: AsyncIterableIterator<BoardEvent>): Promise<BoardEvent[]> {
  const all: BoardEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('failure and retries', () => {
  it('retries per the agent\'s policy and reports each retry', async () => {
    const board = new Board();
    let calls = 0;
    board
      .agent('flaky')
      .consumes(Job)
      .publishes(Result)
      .retry({ maxAttempts: 3, backoff: constant(0) })
      .handle(([job], ctx) => {
        calls++;
        if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
        return { n: job.payload.n * 2 };
      });
    const events = board.events();
    await board.publish(Job, { n: 21 });
    await board.runUntilIdle();
    expect(calls).toBe(3);
    expect((await board.store.list({ type: Result }))[0]?.payload).toEqual({ n: 42 });
    expect(board.stats().agents.flaky).toMatchObject({ done: 1, failed: 0, retries: 2 });
    await board.shutdown();
    const retries = (await drain(events)).filter((e) => e.kind === 'retrying');
    expect(retries.map((e) => (e.kind === 'retrying' ? [e.attempt, e.error.message] : []))).toEqual([
      [2, 'transient 1'],
      [3, 'transient 2'],
    ]);
  });

  it('publishes AgentFailed in the same workflow and records a dead letter when the last attempt fails', async () => {
    const board = new Board();
    const hookErrors: string[] = [];
    const componentErrors: string[] = [];
    board.use({ onError: (error, info) => void componentErrors.push(`${info.agent}:${(error as Error).message}:${info.attempts}`) });
    board
      .agent('broken')
      .consumes(Job)
      .retry({ maxAttempts: 2, backoff: constant(0) })
      .use({ error: (error) => void hookErrors.push((error as Error).message) })
      .handle(() => {
        throw new Error('always');
      });
    const events = board.events();
    const job = await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    const [failed] = await board.store.list({ type: AgentFailed });
    expect(failed).toMatchObject({
      correlationId: job.correlationId,
      producedBy: 'board',
      causedBy: [job.id],
      payload: { agent: 'broken', attempts: 2, inputIds: [job.id], error: { name: 'Error', message: 'always' } },
    });
    const letters = await board.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id: failed!.payload.deadLetterId, attempts: 2, run: { agent: 'broken', inputIds: [job.id] } });
    expect(hookErrors).toEqual(['always']);
    expect(componentErrors).toEqual(['broken:always:2']);
    await board.shutdown();
    const failedEvents = (await drain(events)).filter((e) => e.kind === 'failed');
    expect(failedEvents).toHaveLength(1);
    expect(failedEvents[0]).toMatchObject({ agent: 'broken', attempts: 2, error: { message: 'always' } });
  });

  it('replays a dead letter with the same inputs, and removes it', async () => {
    await using board = new Board();
    let healthy = false;
    board.agent('fragile').consumes(Job).publishes(Result).handle(([job]) => {
      if (!healthy) throw new Error('down');
      return { n: job.payload.n };
    });
    await board.publish(Job, { n: 7 });
    await board.runUntilIdle();
    const [letter] = await board.deadLetters({ agent: 'fragile' });
    healthy = true;
    await board.replayDeadLetter(letter!.id);
    await board.runUntilIdle();
    expect((await board.store.list({ type: Result })).map((r) => r.payload.n)).toEqual([7]);
    expect(await board.deadLetters()).toEqual([]);
    await expect(board.replayDeadLetter(letter!.id)).rejects.toThrow(RangeError);
    await expect(board.replayDeadLetter(3 as never)).rejects.toThrow(TypeError);
  });

  it('runs attempts through any policy object with execute(task, { signal })', async () => {
    await using board = new Board();
    const seen: number[] = [];
    const twice: Policy = {
      async execute(task, options) {
        try {
          return await task(options!.signal!, { attempt: 1 });
        } catch {
          return task(options!.signal!, { attempt: 2 });
        }
      },
    };
    board.agent('policed').consumes(Job).retry(twice).handle((_i, ctx) => {
      seen.push(ctx.attempt);
      if (ctx.attempt === 1) throw new Error('first');
    });
    await board.publish(Job, { n: 0 });
    await board.runUntilIdle();
    expect(seen).toEqual([1, 2]);
    expect(board.stats().agents.policed).toMatchObject({ done: 1, retries: 1 });
  });

  it('composes with resilience policies: a fallback layer\'s value is published as the output', async () => {
    await using board = new Board();
    let attempts = 0;
    board
      .agent('guarded')
      .consumes(Job)
      .publishes(Result)
      .retry(wrap(fallback({ n: -1 }), retryPolicy({ maxAttempts: 2, backoff: constant(0) })))
      .handle(() => {
        attempts++;
        throw new Error('down');
      });
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    expect(attempts).toBe(2);
    expect((await board.store.list({ type: Result })).map((r) => r.payload)).toEqual([{ n: -1 }]);
    expect(board.stats().agents.guarded).toMatchObject({ done: 1, failed: 0, retries: 1 });
  });

  it('fails an attempt that outlives timeout(ms) with a TimeoutError, aborting its signal', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    let sawAbort = false;
    board.agent('slow').consumes(Job).timeout(50).handle(
      (_inputs, ctx) =>
        new Promise<void>((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(ctx.signal.reason);
          }),
        ),
    );
    await board.publish(Job, { n: 1 });
    await vi.advanceTimersByTimeAsync(50);
    await board.runUntilIdle();
    expect(sawAbort).toBe(true);
    const [letter] = await board.deadLetters();
    expect(letter?.error.name).toBe('TimeoutError');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not treat cancellation as failure: no retry, no AgentFailed, no dead letter', async () => {
    await using board = new Board();
    let attempts = 0;
    board.agent('patient').consumes(Job).retry({ maxAttempts: 5, backoff: constant(0) }).handle(
      (_inputs, ctx) =>
        new Promise<void>((_, reject) => {
          attempts++;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    );
    const events = board.events();
    const job = await board.publish(Job, { n: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    await board.workflow(job.correlationId).cancel();
    await board.runUntilIdle();
    expect(attempts).toBe(1);
    expect(await board.store.list({ type: AgentFailed })).toEqual([]);
    expect(await board.deadLetters()).toEqual([]);
    expect(board.stats().agents.patient).toMatchObject({ cancelled: 1, failed: 0 });
    await board.shutdown();
    expect((await drain(events)).map((e) => e.kind)).toContain('cancelled');
  });
});

describe('bestOf', () => {
  it('runs n evaluations in parallel and publishes the best-scoring one', async () => {
    await using board = new Board();
    let evaluation = 0;
    let concurrent = 0;
    let peak = 0;
    board
      .agent('judge')
      .consumes(Job)
      .publishes(Result)
      .bestOf(3, (drafts) => (drafts[0]!.payload as { n: number }).n)
      .handle(async () => {
        const mine = ++evaluation;
        concurrent++;
        peak = Math.max(peak, concurrent);
        await new Promise((resolve) => setImmediate(resolve));
        concurrent--;
        return { n: [5, 9, 2][mine - 1]! };
      });
    await board.publish(Job, { n: 0 });
    await board.runUntilIdle();
    expect(peak).toBe(3);
    expect((await board.store.list({ type: Result })).map((r) => r.payload.n)).toEqual([9]);
  });

  it('aborts evaluations still running at the deadline and keeps the best finished one', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const aborted: number[] = [];
    let evaluation = 0;
    board
      .agent('judge')
      .consumes(Job)
      .publishes(Result)
      .bestOf(3, (drafts) => (drafts[0]!.payload as { n: number }).n, { deadlineMs: 100 })
      .handle(async (_inputs, ctx) => {
        const mine = ++evaluation;
        if (mine === 3) {
          // The best candidate would be this one, but it is too slow.
          await new Promise<void>((_, reject) =>
            ctx.signal.addEventListener('abort', () => {
              aborted.push(mine);
              reject(ctx.signal.reason);
            }),
          );
        }
        return { n: mine };
      });
    await board.publish(Job, { n: 0 });
    await vi.advanceTimersByTimeAsync(100);
    await board.runUntilIdle();
    expect(aborted).toEqual([3]);
    expect((await board.store.list({ type: Result })).map((r) => r.payload.n)).toEqual([2]);
  });

  it('fails the run when every evaluation fails', async () => {
    await using board = new Board();
    board.agent('judge').consumes(Job).bestOf(2, () => 1).handle(() => {
      throw new Error('bad');
    });
    await board.publish(Job, { n: 0 });
    await board.runUntilIdle();
    expect((await board.deadLetters())[0]?.error.name).toBe('AggregateError');
  });
});

describe('loop protection', () => {
  it('stops a feedback loop at the per-workflow run limit and publishes why, once', async () => {
    const Ping = artifactType('Ping', z.number());
    await using board = new Board();
    board.agent('looper').consumes(Ping).publishes(Ping).allowSelfTrigger().maxRuns(5).handle(([p]) => p.payload + 1);
    const first = await board.publish(Ping, 0);
    await board.runUntilIdle();
    expect(board.stats().agents.looper?.done).toBe(5);
    const loops = await board.store.list({ type: LoopDetected });
    expect(loops).toHaveLength(1);
    expect(loops[0]).toMatchObject({ correlationId: first.correlationId, payload: { agent: 'looper', limit: 5 } });
    expect(loops[0]!.payload.reason).toMatch(/limit of 5 runs/);
    // Another workflow has its own budget.
    await board.publish(Ping, 100);
    await board.runUntilIdle();
    expect(board.stats().agents.looper?.done).toBe(10);
  });

  it('applies the board-wide default limit to a two-agent cycle', async () => {
    const Ping = artifactType('Ping', z.number());
    const Pong = artifactType('Pong', z.number());
    await using board = new Board({ maxRunsPerWorkflow: 3 });
    board.agent('ping').consumes(Ping).publishes(Pong).handle(([p]) => p.payload);
    board.agent('pong').consumes(Pong).publishes(Ping).handle(([p]) => p.payload);
    await board.publish(Ping, 1);
    await board.runUntilIdle();
    // The default counts re-entries only: ping's first run, on the external Ping, is not part of the loop.
    expect(board.stats().agents.ping?.done).toBe(4);
    expect((await board.store.list({ type: LoopDetected })).map((l) => l.payload.agent)).toEqual(['ping']);
  });
});
