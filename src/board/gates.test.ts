import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, JoinExpired, artifactType, type Artifact } from 'skein/board';

const Line = artifactType('Line', z.object({ text: z.string() }));
const Summary = artifactType('Summary', z.object({ doc: z.string(), text: z.string() }));
const Keywords = artifactType('Keywords', z.object({ doc: z.string(), words: z.array(z.string()) }));

afterEach(() => {
  vi.useRealTimers();
});

function lines(batches: string[][]) {
  return (inputs: Artifact<{ text: string }>[]) => {
    batches.push(inputs.map((input) => input.payload.text));
  };
}

describe('batching', () => {
  it('flushes a batch as soon as it is full', async () => {
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { size: 3 } }).handle(lines(batches));
    await board.publishMany(Line, ['a', 'b', 'c', 'd'].map((text) => ({ text })), { correlationId: 'doc' });
    await board.runUntilIdle();
    expect(batches).toEqual([['a', 'b', 'c']]); // 'd' waits for two more: no timeout was asked
  });

  it('flushes a partial batch when its timeout passes, not before', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { size: 5, timeoutMs: 100 } }).handle(lines(batches));
    await board.publishMany(Line, [{ text: 'a' }, { text: 'b' }], { correlationId: 'doc' });
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(batches).toEqual([['a', 'b']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears the timer of a batch that filled before its timeout, and times the next batch afresh', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { size: 2, timeoutMs: 100 } }).handle(lines(batches));
    await board.publishMany(Line, [{ text: 'a' }, { text: 'b' }], { correlationId: 'doc' });
    await board.runUntilIdle();
    expect(batches).toEqual([['a', 'b']]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(50);
    await board.publish(Line, { text: 'c' }, { correlationId: 'doc' });
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(batches).toEqual([['a', 'b'], ['c']]);
  });

  it('never mixes workflows in one batch', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { size: 2, timeoutMs: 10 } }).handle(lines(batches));
    await board.publish(Line, { text: 'one-a' }, { correlationId: 'one' });
    await board.publish(Line, { text: 'two-a' }, { correlationId: 'two' });
    await board.publish(Line, { text: 'one-b' }, { correlationId: 'one' });
    await vi.advanceTimersByTimeAsync(10);
    await board.runUntilIdle();
    expect(batches).toEqual([['one-a', 'one-b'], ['two-a']]);
  });

  it('counts a batch waiting on its timer as work: runUntilIdle resolves after the flush and its run', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { size: 10, timeoutMs: 1_000 } }).handle(lines(batches));
    await board.publish(Line, { text: 'a' });
    let idle = false;
    const waiting = board.runUntilIdle().then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(idle).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(batches).toEqual([['a']]);
  });

  it('flushes by timeout alone when no size is given', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const batches: string[][] = [];
    board.agent('summarize').consumes(Line, { batch: { timeoutMs: 5 } }).handle(lines(batches));
    await board.publishMany(Line, [{ text: 'a' }, { text: 'b' }, { text: 'c' }], { correlationId: 'x' });
    await vi.advanceTimersByTimeAsync(5);
    await board.runUntilIdle();
    expect(batches).toEqual([['a', 'b', 'c']]);
  });
});

describe('joins', () => {
  it('runs with one artifact of each type, in declared order, when they share the key within the window', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const runs: string[] = [];
    board
      .agent('report')
      .consumes([Summary, Keywords], { join: { by: (a) => a.payload.doc, withinMs: 100 } })
      .handle(([summary, keywords]) => {
        runs.push(`${summary.payload.text}:${keywords.payload.words.join(',')}`);
      });
    await board.publish(Keywords, { doc: 'd1', words: ['x'] }, { correlationId: 'wf' });
    await board.publish(Keywords, { doc: 'd2', words: ['y'] }, { correlationId: 'wf' });
    await vi.advanceTimersByTimeAsync(50);
    await board.publish(Summary, { doc: 'd2', text: 'second' }, { correlationId: 'wf' });
    await board.publish(Summary, { doc: 'd1', text: 'first' }, { correlationId: 'wf' });
    await board.runUntilIdle();
    expect(runs).toEqual(['second:y', 'first:x']);
    expect(vi.getTimerCount()).toBe(0);
    expect(await board.store.list({ type: JoinExpired })).toEqual([]);
  });

  it('joins by correlation id when no key is given', async () => {
    await using board = new Board();
    const runs: string[] = [];
    board
      .agent('report')
      .consumes([Summary, Keywords], { join: { withinMs: 1_000 } })
      .handle(([summary]) => {
        runs.push(summary.payload.doc);
      });
    await board.publish(Summary, { doc: 'a', text: '' }, { correlationId: 'one' });
    await board.publish(Keywords, { doc: 'b', words: [] }, { correlationId: 'one' });
    await board.runUntilIdle();
    expect(runs).toEqual(['a']);
  });

  it('publishes JoinExpired with what had arrived when the window passes, and drops nothing in silence', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const expired: Artifact[] = [];
    let joined = 0;
    board
      .agent('report')
      .consumes([Summary, Keywords], { join: { by: (a) => a.payload.doc, withinMs: 100 } })
      .handle(() => {
        joined++;
      });
    board.agent('watchdog').consumes(JoinExpired).handle(([e]) => {
      expired.push(e);
    });
    const summary = await board.publish(Summary, { doc: 'lonely', text: 't' }, { correlationId: 'wf' });
    await vi.advanceTimersByTimeAsync(99);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(joined).toBe(0);
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({
      correlationId: 'wf',
      producedBy: 'board',
      payload: { agent: 'report', key: 'lonely', withinMs: 100, received: [{ id: summary.id, type: 'Summary' }], missing: ['Keywords'] },
    });
    // A late partner starts a new window rather than completing the expired one.
    await board.publish(Keywords, { doc: 'lonely', words: [] }, { correlationId: 'wf' });
    await vi.advanceTimersByTimeAsync(100);
    await board.runUntilIdle();
    expect(joined).toBe(0);
    expect(expired).toHaveLength(2);
  });

  it('reports a throwing join key as a skipped input instead of failing the publish', async () => {
    await using board = new Board();
    board
      .agent('report')
      .consumes([Summary, Keywords], {
        join: {
          by: () => {
            throw new Error('no key');
          },
          withinMs: 10,
        },
      })
      .handle(() => {});
    const events = board.events();
    await board.publish(Summary, { doc: 'x', text: '' });
    await board.runUntilIdle();
    for await (const event of events) {
      if (event.kind === 'skipped') {
        expect(event.reason).toContain('no key');
        break;
      }
    }
  });
});
