import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { constant } from 'skein';
import { Board, MemoryStore, artifactType, type BoardEvent } from 'skein/board';
import type { ClaimedRun, ClaimRef, ClaimRequest, Completion, OutputWrite, UnitResult } from 'skein/board/store';

const Job = artifactType('Job', z.object({ n: z.number() }));
const Result = artifactType('Result', z.object({ n: z.number() }));
const Done = artifactType('Done', z.object({ n: z.number() }));

async function drain(events: AsyncIterable<BoardEvent>): Promise<BoardEvent[]> {
  const all: BoardEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('the event stream', () => {
  it('reports a run\'s life in order: published, scheduled, started, published (its output), finished, idle', async () => {
    const board = new Board();
    board.agent('worker').consumes(Job).publishes(Done).handle(([job]) => ({ n: job.payload.n }));
    const events = board.events();
    const job = await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    await board.shutdown();
    const all = await drain(events);
    expect(all.map((e) => e.kind)).toEqual(['published', 'scheduled', 'started', 'published', 'finished', 'idle']);
    const [published, scheduled, started, , finished] = all;
    expect(published).toMatchObject({ artifactId: job.id, type: 'Job', producedBy: 'external', correlationId: job.correlationId });
    expect(scheduled).toMatchObject({ agent: 'worker', inputIds: [job.id], correlationId: job.correlationId });
    const runId = scheduled!.kind === 'scheduled' ? scheduled!.runId : '';
    expect(started).toMatchObject({ runId, agent: 'worker' });
    expect(finished).toMatchObject({ runId, agent: 'worker', outputs: 1 });
    expect(finished!.kind === 'finished' && finished!.durationMs >= 0).toBe(true);
    for (const event of all) expect(typeof event.at).toBe('number');
  });

  it('dates published and scheduled at the board clock of the unit that stored them (the run\'s enqueuedAt), and events in order of time', async () => {
    const board = new Board();
    board.agent('worker').consumes(Job).publishes(Done).handle(([job]) => ({ n: job.payload.n }));
    board.agent('archive').consumes(Done).handle(() => {});
    const events = board.events();
    const before = Date.now();
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    const after = Date.now();
    await board.shutdown();
    const all = await drain(events);
    expect(all.map((e) => e.kind)).toEqual(['published', 'scheduled', 'started', 'published', 'scheduled', 'finished', 'started', 'finished', 'idle']);
    for (const event of all) {
      expect(event.at).toBeGreaterThanOrEqual(before);
      expect(event.at).toBeLessThanOrEqual(after);
    }
    for (let i = 1; i < all.length; i++) expect(all[i]!.at).toBeGreaterThanOrEqual(all[i - 1]!.at);
    // each published event is dated like the run its unit queued
    expect(all[0]!.at).toBe(all[1]!.at);
    expect(all[3]!.at).toBe(all[4]!.at);
  });

  it('gives every subscriber every event, and a slow one a lagged event instead of unbounded memory', async () => {
    const board = new Board();
    board.agent('worker').consumes(Job).handle(() => {});
    const full = board.events();
    const small = board.events({ bufferSize: 3 });
    await board.publishMany(Job, Array.from({ length: 10 }, (_, n) => ({ n })));
    await board.runUntilIdle();
    await board.shutdown();
    const fullEvents = await drain(full);
    const smallEvents = await drain(small);
    expect(fullEvents.filter((e) => e.kind === 'finished')).toHaveLength(10);
    expect(smallEvents[0]).toMatchObject({ kind: 'lagged', dropped: fullEvents.length - 3 });
    expect(smallEvents.slice(1)).toEqual(fullEvents.slice(-3));
  });

  it('stops delivering when the consumer breaks out or its signal aborts', async () => {
    await using board = new Board();
    board.agent('worker').consumes(Job).handle(() => {});
    const controller = new AbortController();
    const aborted = board.events({ signal: controller.signal });
    const broken = board.events();
    await board.publish(Job, { n: 1 });
    for await (const event of broken) {
      expect(event.kind).toBe('published');
      break;
    }
    controller.abort();
    expect(await aborted.next()).toEqual({ value: undefined, done: true });
    expect(await broken.next()).toEqual({ value: undefined, done: true });
  });

  it('ends at once for a subscriber that arrives after shutdown', async () => {
    const board = new Board();
    await board.shutdown();
    expect(await board.events().next()).toEqual({ value: undefined, done: true });
  });

  it('reports a failure of the board itself (its store) as an error event, and recovers on the next wake-up', async () => {
    class FlakyStore extends MemoryStore {
      failures = 1;
      override claim(request: ClaimRequest): ClaimedRun[] {
        if (this.failures-- > 0) throw new Error('disk full');
        return super.claim(request);
      }
    }
    const board = new Board({ store: new FlakyStore() });
    let runs = 0;
    board.agent('worker').consumes(Job).handle(() => void runs++);
    const events = board.events();
    await board.publish(Job, { n: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    await board.publish(Job, { n: 2 });
    await board.runUntilIdle();
    expect(runs).toBe(2);
    await board.shutdown();
    const errors = (await drain(events)).filter((e) => e.kind === 'error');
    expect(errors).toMatchObject([{ operation: 'claiming a run', agent: 'worker', error: { message: 'disk full' } }]);
  });

  it('hands a run back to its queue when the store fails to record its completion: no dead letter, run again, outputs once', async () => {
    // A store that throws instead of answering (a deadlock retried to the end, a lost connection):
    // the unit did not apply, and the agent did nothing wrong.
    class FailingStore extends MemoryStore {
      failures = 1;
      override complete(claim: ClaimRef, completion: Completion, now: number): UnitResult {
        if (completion.outcome === 'finished' && this.failures-- > 0) throw new Error('deadlock detected');
        return super.complete(claim, completion, now);
      }
    }
    const store = new FailingStore();
    const board = new Board({ store });
    let runs = 0;
    board.agent('times-ten').consumes(Job).publishes(Result).handle(([job]) => {
      runs++;
      return { n: job.payload.n * 10 };
    });
    const events = board.events();
    const seen = drain(events);
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    await board.shutdown();
    // The run's completion failed once: it ran again, and its output exists once.
    expect(runs).toBe(2);
    expect(store.list({ type: Result }).map((result) => result.payload.n)).toEqual([10]);
    expect(store.listDeadLetters()).toEqual([]);
    expect(board.stats().agents['times-ten']).toMatchObject({ done: 1, failed: 0, cancelled: 0 });
    const all = await seen;
    expect(all.filter((e) => e.kind === 'started')).toHaveLength(2);
    expect(all.filter((e) => e.kind === 'error')).toMatchObject([{ operation: 'recording a completion', agent: 'times-ten', error: { message: 'deadlock detected' } }]);
    expect(all.filter((e) => e.kind === 'failed')).toEqual([]);
  });

  it('hands a streaming run back too when the store fails to apply one of its yields and the body lets the error through', async () => {
    class FailingStore extends MemoryStore {
      failures = 1;
      override emit(claim: ClaimRef, outputs: readonly OutputWrite[], now: number): UnitResult {
        if (outputs[0]!.index === 1 && this.failures-- > 0) throw new Error('connection lost');
        return super.emit(claim, outputs, now);
      }
    }
    const store = new FailingStore();
    await using board = new Board({ store });
    let runs = 0;
    board.agent('stream').consumes(Job).publishes(Result).handle(async function* ([job]) {
      runs++;
      yield { n: job.payload.n };
      yield { n: job.payload.n + 1 };
    });
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    // Run again from the start: the first yield was applied already (keyed by run and index), the second now.
    expect(runs).toBe(2);
    expect(store.list({ type: Result }).map((result) => result.payload.n)).toEqual([1, 2]);
    expect(store.listDeadLetters()).toEqual([]);
    expect(board.stats().agents.stream).toMatchObject({ done: 1, failed: 0 });
  });

  it('validates its options', async () => {
    await using board = new Board();
    expect(() => board.events({ bufferSize: 0 })).toThrow(RangeError);
    expect(() => board.events({ signal: {} as never })).toThrow(TypeError);
  });

  it('gives what a live progress view needs through stats()', async () => {
    await using board = new Board();
    board.agent('worker').consumes(Job).retry({ maxAttempts: 2, backoff: constant(0) }).handle(([job], ctx) => {
      if (job.payload.n === 0 && ctx.attempt === 1) throw new Error('once');
      if (job.payload.n === 1) throw new Error('always');
    });
    await board.publishMany(Job, [{ n: 0 }, { n: 1 }, { n: 2 }]);
    await board.runUntilIdle();
    expect(board.stats()).toEqual({
      published: 4, // three jobs and one AgentFailed
      idle: true,
      agents: { worker: { queued: 0, running: 0, done: 2, failed: 1, cancelled: 0, skipped: 0, retries: 2, maxConcurrency: 1, usage: {} } },
      usage: {},
    });
  });
});
