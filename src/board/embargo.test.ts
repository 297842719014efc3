import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';

const Notice = artifactType('Notice', z.object({ text: z.string() }));
const Order = artifactType('Order', z.object({ id: z.string() }));
const Reminder = artifactType('Reminder', z.object({ id: z.string() }));

afterEach(() => {
  vi.useRealTimers();
});

/** A board whose 'reader' agent records the notices it is triggered by, and when. */
function reading(board: Board, seen: { text: string; at: number }[]): void {
  board.agent('reader').consumes(Notice).handle(([notice]) => {
    seen.push({ text: notice.payload.text, at: Date.now() });
  });
}

describe('embargoed artifacts', () => {
  it('schedules no agent and shows no reader an artifact before its embargo ends, then releases it on time', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const seen: { text: string; at: number }[] = [];
    reading(board, seen);
    const held = await board.publish(Notice, { text: 'results' }, { visibleAfterMs: 1_000, correlationId: 'wf' });
    expect(held.visibleAt).toBe(new Date(1_000).toISOString());
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toEqual([]);
    expect(await board.store.list({ type: Notice })).toEqual([]);
    expect(await board.store.getArtifacts([held.id])).toEqual([undefined]);
    expect((await board.store.pending({ correlationId: 'wf' })).timedGates).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(seen).toEqual([{ text: 'results', at: 1_000 }]);
    expect(await board.store.list({ type: Notice })).toEqual([held]);
  });

  it('counts an embargoed artifact as pending work: runUntilIdle waits for its release and what it schedules', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const seen: { text: string; at: number }[] = [];
    reading(board, seen);
    await board.publish(Notice, { text: 'later' }, { visibleAt: new Date(500) });
    const idle = board.runUntilIdle();
    let settled = false;
    void idle.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await idle;
    expect(seen).toEqual([{ text: 'later', at: 500 }]);
  });

  it('publishes an embargo that ended already (or of 0 ms) as visible at once, without visibleAt', async () => {
    await using board = new Board();
    const seen: { text: string; at: number }[] = [];
    reading(board, seen);
    const past = await board.publish(Notice, { text: 'past' }, { visibleAt: '2001-01-01T00:00:00Z' });
    const zero = await board.publish(Notice, { text: 'zero' }, { visibleAfterMs: 0 });
    await board.runUntilIdle();
    expect(past.visibleAt).toBeUndefined();
    expect(zero.visibleAt).toBeUndefined();
    expect(seen.map((s) => s.text).sort()).toEqual(['past', 'zero']);
  });

  it('holds an agent output published with an embargo, from publishes(T, { visibleAfterMs }) or the draft', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const reminded: { id: string; at: number }[] = [];
    board
      .agent('remind')
      .consumes(Order)
      .publishes(Reminder, { visibleAfterMs: 60_000 })
      .handle(([order]) => (order.payload.id === 'rush' ? Reminder.draft({ id: 'rush' }, { visibleAfterMs: 10 }) : { id: order.payload.id }));
    board.agent('mailer').consumes(Reminder).handle(([reminder]) => {
      reminded.push({ id: reminder.payload.id, at: Date.now() });
    });
    await board.publish(Order, { id: 'o-1' });
    await board.publish(Order, { id: 'rush' });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(reminded).toEqual([{ id: 'rush', at: 10 }]);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(reminded).toEqual([
      { id: 'rush', at: 10 },
      { id: 'o-1', at: 60_000 },
    ]);
  });

  it('announces an embargoed artifact (the published event) when it is released, not before', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const published: number[] = [];
    const events = board.events();
    const reading = (async () => {
      for await (const event of events) {
        if (event.kind === 'published') published.push(Date.now());
        if (published.length === 1) return;
      }
    })();
    await board.publish(Notice, { text: 'x' }, { visibleAfterMs: 200 });
    await vi.advanceTimersByTimeAsync(199);
    expect(published).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await reading;
    expect(published).toEqual([200]);
  });

  it('drops an embargoed artifact with its cancelled workflow', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const seen: { text: string; at: number }[] = [];
    reading(board, seen);
    await board.publish(Notice, { text: 'never' }, { visibleAfterMs: 100, correlationId: 'wf' });
    await board.workflow('wf').cancel();
    await vi.advanceTimersByTimeAsync(200);
    await board.runUntilIdle();
    expect(seen).toEqual([]);
    expect(await board.store.list()).toEqual([]);
  });

  it('arms a far embargo (beyond the longest timer) and still releases it on time', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const seen: { text: string; at: number }[] = [];
    reading(board, seen);
    const day = 24 * 3_600_000;
    await board.publish(Notice, { text: 'next month' }, { visibleAfterMs: 30 * day });
    await vi.advanceTimersByTimeAsync(30 * day - 1);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await board.runUntilIdle();
    expect(seen).toEqual([{ text: 'next month', at: 30 * day }]);
  });

  it('refuses both visibleAt and visibleAfterMs, a negative delay, an invalid instant', async () => {
    await using board = new Board();
    await expect(board.publish(Notice, { text: 'x' }, { visibleAt: 5, visibleAfterMs: 5 })).rejects.toThrow(/cannot be given together/);
    await expect(board.publish(Notice, { text: 'x' }, { visibleAfterMs: -1 })).rejects.toThrow(RangeError);
    await expect(board.publish(Notice, { text: 'x' }, { visibleAt: 'soon' })).rejects.toThrow(/visibleAt must be a valid Date/);
    expect(() => board.agent('a').consumes(Order).publishes(Reminder, { visibleAfterMs: Number.NaN })).toThrow(/visibleAfterMs/);
    expect(await board.store.list()).toEqual([]);
  });
});
