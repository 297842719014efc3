/**
 * What a run reports while it works: `ctx.reportProgress` becomes a `progress` event,
 * `ctx.reportUsage` a `usage` event and sums in `board.stats()`.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, type BoardEvent } from 'skein/board';

const Job = artifactType('Job', z.number());

describe('run reports', () => {
  it('turns reportProgress into a progress event of the run', async () => {
    await using board = new Board();
    const events: BoardEvent[] = [];
    board.events({ onEvent: (event) => events.push(event) });
    board.agent('worker').consumes(Job).handle((_inputs, ctx) => ctx.reportProgress({ step: 'half way' }));
    const job = await board.publish(Job, 1);
    await board.runUntilIdle();
    expect(events.filter((e) => e.kind === 'progress')).toEqual([
      { kind: 'progress', at: expect.any(Number), runId: expect.any(String), agent: 'worker', correlationId: job.correlationId, detail: { step: 'half way' } },
    ]);
  });

  it('sums reportUsage per agent and for the board, and reports each addition as a usage event', async () => {
    await using board = new Board();
    const events: BoardEvent[] = [];
    board.events({ onEvent: (event) => events.push(event) });
    board.agent('a').consumes(Job).handle((_inputs, ctx) => {
      ctx.reportUsage({ tokens: 10, requests: 1 });
      ctx.reportUsage({ tokens: 5 });
    });
    board.agent('b').consumes(Job).handle((_inputs, ctx) => ctx.reportUsage({ tokens: 1 }));
    await board.publish(Job, 1);
    await board.publish(Job, 2);
    await board.runUntilIdle();
    const stats = board.stats();
    expect(stats.agents.a?.usage).toEqual({ tokens: 30, requests: 2 });
    expect(stats.agents.b?.usage).toEqual({ tokens: 2 });
    expect(stats.usage).toEqual({ tokens: 32, requests: 2 });
    expect(events.filter((e) => e.kind === 'usage').map((e) => (e.kind === 'usage' ? e.usage : undefined))).toHaveLength(6);
  });

  it('gives a copy of the counts in stats(): changing it changes nothing', async () => {
    await using board = new Board();
    board.agent('a').consumes(Job).handle((_inputs, ctx) => ctx.reportUsage({ tokens: 1 }));
    await board.publish(Job, 1);
    await board.runUntilIdle();
    (board.stats().agents.a!.usage as Record<string, number>).tokens = 99;
    expect(board.stats().agents.a?.usage).toEqual({ tokens: 1 });
  });

  it('rejects counts that are not finite numbers >= 0, naming the count', async () => {
    await using board = new Board();
    const errors: unknown[] = [];
    board.agent('a').consumes(Job).handle((_inputs, ctx) => {
      for (const bad of [{ tokens: -1 }, { tokens: Number.NaN }, { tokens: '3' }, null, [1]]) {
        try {
          ctx.reportUsage(bad as never);
        } catch (error) {
          errors.push(error);
        }
      }
    });
    await board.publish(Job, 1);
    await board.runUntilIdle();
    expect(errors).toHaveLength(5);
    expect(errors.every((e) => e instanceof TypeError)).toBe(true);
    expect(String(errors[0])).toContain("reportUsage count 'tokens' must be a finite number >= 0, got -1");
    expect(board.stats().agents.a?.usage).toEqual({});
  });
});
