import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, JoinExpired, artifactType, type Artifact } from 'skein/board';

const Ticket = artifactType('Ticket', z.object({ title: z.string() }));
const Bid = artifactType('Bid', z.object({ item: z.string(), n: z.number() }));
const Ask = artifactType('Ask', z.object({ item: z.string(), n: z.number() }));

afterEach(() => {
  vi.useRealTimers();
});

describe('subscription tags', () => {
  it('matches an artifact carrying any one of a set of tags', async () => {
    await using board = new Board();
    const seen: string[] = [];
    board.agent('urgent').consumes(Ticket, { tags: { any: ['p0', 'p1'] } }).handle(([t]) => {
      seen.push(t.payload.title);
    });
    await board.publish(Ticket, { title: 'outage' }, { tags: ['p0'] });
    await board.publish(Ticket, { title: 'slow' }, { tags: ['p1', 'ui'] });
    await board.publish(Ticket, { title: 'typo' }, { tags: ['p3'] });
    await board.publish(Ticket, { title: 'untagged' });
    await board.runUntilIdle();
    expect(seen.sort()).toEqual(['outage', 'slow']);
  });

  it('combines all and any: every tag of all and one of any', async () => {
    await using board = new Board();
    const seen: string[] = [];
    board.agent('billing-urgent').consumes(Ticket, { tags: { all: ['billing'], any: ['p0', 'p1'] } }).handle(([t]) => {
      seen.push(t.payload.title);
    });
    await board.publish(Ticket, { title: 'a' }, { tags: ['billing', 'p1'] });
    await board.publish(Ticket, { title: 'b' }, { tags: ['billing'] });
    await board.publish(Ticket, { title: 'c' }, { tags: ['p0'] });
    await board.runUntilIdle();
    expect(seen).toEqual(['a']);
  });

  it('keeps an array meaning every tag', async () => {
    await using board = new Board();
    const seen: string[] = [];
    board.agent('both').consumes(Ticket, { tags: ['x', 'y'] }).handle(([t]) => {
      seen.push(t.payload.title);
    });
    await board.publish(Ticket, { title: 'one' }, { tags: ['x'] });
    await board.publish(Ticket, { title: 'two' }, { tags: ['y', 'x'] });
    await board.runUntilIdle();
    expect(seen).toEqual(['two']);
  });

  it('refuses an empty any set, unknown keys and non-string tags', async () => {
    await using board = new Board();
    expect(() => board.agent('a').consumes(Ticket, { tags: { any: [] } })).toThrow(RangeError);
    expect(() => board.agent('b').consumes(Ticket, { tags: { some: ['x'] } as never })).toThrow(/unknown consumes tags option 'some'/);
    expect(() => board.agent('c').consumes(Ticket, { tags: { any: [1] } as never })).toThrow(/tags.any must be an array of strings/);
    expect(() => board.agent('d').consumes(Ticket, { tags: 'x' as never })).toThrow(/array of strings or \{ all, any \}/);
  });
});

describe('joins by count window', () => {
  function collect(board: Board, withinLast: number, extra: { withinMs?: number } = {}) {
    const pairs: string[] = [];
    board
      .agent('match')
      .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinLast, ...extra } })
      .handle(([bid, ask]) => {
        pairs.push(`${bid.payload.n}-${ask.payload.n}`);
      });
    const facts: Artifact[] = [];
    board.agent('watchdog').consumes(JoinExpired).handle(([e]) => {
      facts.push(e);
    });
    return { pairs, facts };
  }

  it('keeps the last N of a side per key and reports the ones pushed out', async () => {
    await using board = new Board();
    const { pairs, facts } = collect(board, 2);
    const bids = [];
    for (let n = 1; n <= 4; n++) bids.push(await board.publish(Bid, { item: 'lamp', n }, { correlationId: 'wf' }));
    await board.publish(Bid, { item: 'chair', n: 9 }, { correlationId: 'wf' });
    await board.runUntilIdle();
    expect(facts).toHaveLength(1);
    expect(facts[0]!.payload).toEqual({
      agent: 'match',
      key: 'lamp',
      withinLast: 2,
      received: [
        { id: bids[0]!.id, type: 'Bid' },
        { id: bids[1]!.id, type: 'Bid' },
      ],
      missing: ['Ask'],
    });
    await board.publish(Ask, { item: 'lamp', n: 1 }, { correlationId: 'wf' });
    await board.publish(Ask, { item: 'lamp', n: 2 }, { correlationId: 'wf' });
    await board.publish(Ask, { item: 'chair', n: 3 }, { correlationId: 'wf' });
    await board.runUntilIdle();
    // The oldest bids still in the window pair first; bids 1 and 2 had left it.
    expect(pairs).toEqual(['3-1', '4-2', '9-3']);
    expect(await board.store.listGates()).toEqual([]);
  });

  it('skips entries pushed out when a partner arrives before they are reported', async () => {
    await using board = new Board();
    const pairs: string[] = [];
    board
      .agent('match')
      .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinLast: 1 } })
      .handle(([bid, ask]) => {
        pairs.push(`${bid.payload.n}-${ask.payload.n}`);
      });
    // One unit: the second bid pushes the first out, and the ask pairs with the second in the same unit.
    await board.publishMany(Bid, [
      { item: 'lamp', n: 1 },
      { item: 'lamp', n: 2 },
    ]);
    await board.publish(Ask, { item: 'lamp', n: 7 });
    await board.runUntilIdle();
    expect(pairs).toEqual(['2-7']);
    const expired = await board.store.list({ type: JoinExpired });
    expect(expired.map((e) => e.payload.received.length)).toEqual([1]);
  });

  it('combines a count window with a time window: whichever passes first', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const { pairs, facts } = collect(board, 3, { withinMs: 100 });
    await board.publish(Bid, { item: 'lamp', n: 1 });
    await vi.advanceTimersByTimeAsync(99);
    expect(facts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(facts).toHaveLength(1);
    expect(facts[0]!.payload).toMatchObject({ withinMs: 100, withinLast: 3, missing: ['Ask'] });
    expect(pairs).toEqual([]);
  });

  it('removes entries pushed out of the window when their workflow is cancelled', async () => {
    vi.useFakeTimers(); // the report of the pushed-out entry waits for a timer that has not run yet
    await using board = new Board();
    const { facts } = collect(board, 1);
    await board.publish(Bid, { item: 'lamp', n: 1 }, { correlationId: 'wf' });
    await board.publish(Bid, { item: 'lamp', n: 2 }, { correlationId: 'other' });
    await board.workflow('wf').cancel();
    await board.runUntilIdle();
    expect(facts).toEqual([]);
    const gates = await board.store.listGates();
    expect(gates.map((gate) => gate.slots.flat().map((entry) => entry.correlationId))).toEqual([['other']]);
  });

  it('refuses a window of 0, a join without any window and unknown join keys', async () => {
    await using board = new Board();
    expect(() => board.agent('a').consumes([Bid, Ask], { join: { withinLast: 0 } })).toThrow(/withinLast/);
    expect(() => board.agent('b').consumes([Bid, Ask], { join: { withinLast: 1.5 } })).toThrow(/withinLast/);
    expect(() => board.agent('c').consumes([Bid, Ask], { join: {} })).toThrow(/needs a window/);
    expect(() => board.agent('d').consumes([Bid, Ask], { join: { within: 3 } as never })).toThrow(/unknown join option 'within'/);
  });
});

describe('a join feeding a batch', () => {
  it('batches joined pairs: the body receives tuples in declared order, flushed at the batch size', async () => {
    await using board = new Board();
    const batches: string[][] = [];
    board
      .agent('settle')
      .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinMs: 60_000 }, batch: { size: 2 } })
      .handle((pairs) => {
        batches.push(pairs.map(([bid, ask]) => `${bid.type}:${bid.payload.item}/${ask.type}:${ask.payload.n}`));
      });
    await board.publish(Ask, { item: 'lamp', n: 1 }, { correlationId: 'a' });
    await board.publish(Bid, { item: 'lamp', n: 1 }, { correlationId: 'b' });
    await board.publish(Bid, { item: 'chair', n: 2 }, { correlationId: 'c' });
    await board.publish(Bid, { item: 'desk', n: 3 }, { correlationId: 'd' });
    // The desk bid waits for its ask (its join window is long): no idle to wait for, so watch the batches.
    await board.publish(Ask, { item: 'chair', n: 2 }, { correlationId: 'e' });
    // Two pairs from different workflows (a join by key batches across them): one batch.
    await vi.waitFor(() => expect(batches).toEqual([['Bid:lamp/Ask:1', 'Bid:chair/Ask:2']]));
  });

  it('flushes a partial batch of pairs when its timeout passes, and reports an unmatched artifact as before', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const batches: number[][] = [];
    board
      .agent('settle')
      .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinMs: 500 }, batch: { size: 10, timeoutMs: 100 } })
      .handle((pairs) => {
        batches.push(pairs.map(([bid]) => bid.payload.n));
      });
    const facts: Artifact[] = [];
    board.agent('watchdog').consumes(JoinExpired).handle(([e]) => void facts.push(e));
    await board.publish(Bid, { item: 'lamp', n: 1 });
    await board.publish(Ask, { item: 'lamp', n: 1 });
    await board.publish(Bid, { item: 'lonely', n: 9 });
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(400);
    await board.runUntilIdle();
    expect(facts.map((f) => (f.payload as { key: string }).key)).toEqual(['lonely']);
  });

  it('batches per workflow when the join has no key', async () => {
    await using board = new Board();
    const batches: string[][] = [];
    board
      .agent('settle')
      .consumes([Bid, Ask], { join: { withinLast: 5 }, batch: { size: 2 } })
      .handle((pairs) => void batches.push(pairs.map(([bid, ask]) => `${bid.correlationId}:${bid.payload.n}${ask.payload.n}`)));
    for (const wf of ['x', 'y']) {
      await board.publish(Bid, { item: 'i', n: 1 }, { correlationId: wf });
      await board.publish(Ask, { item: 'i', n: 2 }, { correlationId: wf });
    }
    await board.publish(Bid, { item: 'i', n: 3 }, { correlationId: 'x' });
    await board.publish(Ask, { item: 'i', n: 4 }, { correlationId: 'x' });
    await board.runUntilIdle();
    expect(batches).toEqual([['x:12', 'x:34']]); // y's one pair waits for a second (no timeout asked)
  });

  it('drops a waiting pair with the workflow of its run when that workflow is cancelled', async () => {
    await using board = new Board();
    board
      .agent('settle')
      .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinMs: 60_000 }, batch: { size: 5 } })
      .handle(() => {});
    await board.publish(Bid, { item: 'lamp', n: 1 }, { correlationId: 'doomed' });
    await board.publish(Ask, { item: 'lamp', n: 1 }, { correlationId: 'other' });
    expect((await board.store.listGates()).map((gate) => gate.slots[0]!.map((entry) => entry.artifactIds?.length))).toEqual([[2]]);
    await board.workflow('doomed').cancel();
    expect(await board.store.listGates()).toEqual([]);
  });

  it('still refuses a batch of several types without a join', async () => {
    await using board = new Board();
    expect(() => board.agent('a').consumes([Bid, Ask], { batch: { size: 2 } })).toThrow(/batch consumes exactly one type, or joins several/);
  });
});
