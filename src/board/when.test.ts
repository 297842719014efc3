import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactCount, artifactType, type BoardEvent } from 'skein/board';
import { SqliteStore } from 'skein/board/sqlite';

const Review = artifactType('Review', z.object({ stars: z.number() }));
const Verdict = artifactType('Verdict', z.object({ mean: z.number(), reviews: z.number() }));

function judge(board: Board): void {
  board
    .agent('judge')
    .consumes(Review)
    .publishes(Verdict)
    .maxConcurrency(4)
    .when(artifactCount(Review, 3))
    .handle(async (_inputs, ctx) => {
      const reviews = await ctx.board.list({ type: Review, correlationId: ctx.correlationId });
      return { mean: reviews.reduce((sum, r) => sum + r.payload.stars, 0) / reviews.length, reviews: reviews.length };
    });
}

async function collect(board: Board, work: () => Promise<void>): Promise<BoardEvent[]> {
  const seen: BoardEvent[] = [];
  const events = board.events({ onEvent: (event) => seen.push(event) });
  try {
    await work();
  } finally {
    await events.return?.();
  }
  return seen;
}

describe('agent.when(condition)', () => {
  it('runs when the condition holds, in the run\'s workflow, and skips (recording it) when it does not', async () => {
    await using board = new Board();
    judge(board);
    const events = await collect(board, async () => {
      for (const stars of [3, 4, 5]) {
        await board.publish(Review, { stars }, { correlationId: 'pizza-1' });
        await board.runUntilIdle(); // one at a time: each run sees the reviews published so far
      }
      await board.publishMany(Review, [{ stars: 1 }, { stars: 2 }], { correlationId: 'pizza-2' });
      await board.runUntilIdle();
    });
    const verdicts = await board.store.list({ type: Verdict });
    expect(verdicts.map((v) => [v.correlationId, v.payload])).toEqual([['pizza-1', { mean: 4, reviews: 3 }]]);
    expect(board.stats().agents.judge).toMatchObject({ done: 1, skipped: 4, failed: 0, cancelled: 0 });
    const skipped = events.filter((e) => e.kind === 'skipped');
    expect(skipped).toHaveLength(4);
    expect(skipped[0]).toMatchObject({ agent: 'judge', correlationId: 'pizza-1', reason: 'condition not met: at least 3 Review' });
    expect(events.filter((e) => e.kind === 'started')).toHaveLength(1); // skipped runs never start
    expect(board.store.listRuns()).toEqual([]); // skipped runs end in the store too
  });

  it('asks again for each new trigger: a skipped run\'s inputs are not offered again', async () => {
    await using board = new Board();
    let open = false;
    const seen: number[] = [];
    board.agent('gated').consumes(Review).when(() => open).handle(([review]) => void seen.push(review.payload.stars));
    await board.publish(Review, { stars: 1 });
    await board.runUntilIdle();
    open = true;
    await board.runUntilIdle();
    expect(seen).toEqual([]);
    await board.publish(Review, { stars: 2 });
    await board.runUntilIdle();
    expect(seen).toEqual([2]);
  });

  it('gives a predicate the run\'s workflow; several when calls must all hold', async () => {
    await using board = new Board();
    const asked: (string | undefined)[] = [];
    const ran: number[] = [];
    board
      .agent('picky')
      .consumes(Review)
      .when((view) => {
        asked.push(view.correlationId);
        return true;
      })
      .when(async (view) => (await view.store.list({ type: Review, correlationId: view.correlationId })).length >= 2)
      .handle(([review]) => void ran.push(review.payload.stars));
    await board.publish(Review, { stars: 1 }, { correlationId: 'a' });
    await board.runUntilIdle();
    await board.publish(Review, { stars: 2 }, { correlationId: 'a' });
    await board.runUntilIdle();
    expect(asked).toEqual(['a', 'a']);
    expect(ran).toEqual([2]);
  });

  it('skips a run whose condition throws, and reports the error', async () => {
    await using board = new Board();
    let ran = false;
    board.agent('broken').consumes(Review).when(() => { throw new Error('no database'); }).handle(() => { ran = true; });
    const events = await collect(board, async () => {
      await board.publish(Review, { stars: 1 });
      await board.runUntilIdle();
    });
    expect(ran).toBe(false);
    expect(events.find((e) => e.kind === 'skipped')).toMatchObject({ reason: 'condition threw: no database' });
    expect(events.find((e) => e.kind === 'error')).toMatchObject({ operation: 'activation condition', agent: 'broken' });
    expect(board.stats().agents.broken?.skipped).toBe(1);
  });

  it('rejects what is not a condition, and when() after handle()', () => {
    const board = new Board();
    const builder = board.agent('x').consumes(Review);
    expect(() => builder.when(42 as never)).toThrow(TypeError);
    builder.handle(() => {});
    expect(() => builder.when(() => true)).toThrow(/already registered/);
    void board.shutdown();
  });

  it('asks a durable store (SQLite) the same question', async () => {
    await using board = new Board({ store: new SqliteStore({ path: ':memory:' }) });
    judge(board);
    for (const stars of [5, 4, 3]) {
      await board.publish(Review, { stars }, { correlationId: 'p' });
      await board.runUntilIdle();
    }
    expect((await board.store.list({ type: Verdict })).map((v) => v.payload)).toEqual([{ mean: 4, reviews: 3 }]);
    expect(board.stats().agents.judge).toMatchObject({ done: 1, skipped: 2 });
  });
});
