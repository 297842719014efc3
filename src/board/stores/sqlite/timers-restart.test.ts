/**
 * Timers across a restart of a SQLite store: a board fires ticks, stops (one tick's run still in
 * progress, handed back to the queue), slots pass while no board runs, and a new board on the same
 * file picks the timer up where the store says it is: no tick fired twice, missed slots handled as
 * `missed` says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Board, TimerTick, type MissedTicks, type TimerTickPayload } from '../../index.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skein-timers-'));
let files = 0;

afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  readonly board: string;
  readonly tick: number;
  readonly scheduledAt: number;
}

/** Declares the scheduled agent; tick 2 waits for its signal on the first board (so it is in progress when that board stops). */
function declare(board: Board, name: string, ran: Ran[], missed: MissedTicks, toleranceMs?: number): void {
  board
    .agent('job')
    .schedule({ every: 100, missed, ...(toleranceMs === undefined ? {} : { toleranceMs }) })
    .handle(async (_inputs, ctx) => {
      const timer = ctx.timer!;
      if (name === 'first' && timer.tick === 2) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        ctx.signal.throwIfAborted();
      }
      ran.push({ board: name, tick: timer.tick, scheduledAt: Date.parse(timer.scheduledAt) });
    });
}

async function restart(missed: MissedTicks, toleranceMs?: number): Promise<{ ran: Ran[]; fired: TimerTickPayload[] }> {
  // setImmediate stays real: the SQLite store groups completions into the next turn with it.
  vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const path = join(dir, `timers-${++files}.db`);
  const ran: Ran[] = [];
  const first = new Board({ store: new SqliteStore({ path }) });
  declare(first, 'first', ran, missed, toleranceMs);
  await vi.advanceTimersByTimeAsync(250); // tick 1 ran; tick 2 is running
  await first.shutdown(); // tick 2's run goes back to the queue; the store is closed
  vi.setSystemTime(1_080); // slots 300 .. 1000 pass while no board runs
  const store = new SqliteStore({ path });
  const second = new Board({ store });
  declare(second, 'second', ran, missed, toleranceMs);
  const found = await second.resume();
  expect(found.queued).toBe(1); // tick 2's run, left by the first board
  await vi.advanceTimersByTimeAsync(0);
  await second.runUntilIdle();
  await vi.advanceTimersByTimeAsync(100); // the slot at 1100
  await second.runUntilIdle();
  const fired = store.list({ type: TimerTick }).map((tick) => tick.payload);
  await second.shutdown();
  return { ran, fired };
}

describe('timers across a restart of a SQLite store', () => {
  it("'once': the run left in progress runs again, one tick stands for the missed slots, none is fired twice", async () => {
    const { ran, fired } = await restart('once');
    expect(ran).toEqual([
      { board: 'first', tick: 1, scheduledAt: 100 },
      { board: 'second', tick: 2, scheduledAt: 200 },
      { board: 'second', tick: 3, scheduledAt: 300 },
      { board: 'second', tick: 4, scheduledAt: 1_100 },
    ]);
    expect(fired.map((tick) => tick.tick)).toEqual([1, 2, 3, 4]);
  });

  it("'all': one tick per missed slot, in order, none fired twice", async () => {
    const { ran, fired } = await restart('all');
    expect(ran.map((r) => r.scheduledAt)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_100]);
    expect(ran.map((r) => r.tick)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(fired.map((tick) => tick.tick)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it("'skip': the missed slots are dropped, the timer goes on from the next one", async () => {
    const { ran, fired } = await restart('skip', 50);
    expect(ran).toEqual([
      { board: 'first', tick: 1, scheduledAt: 100 },
      { board: 'second', tick: 2, scheduledAt: 200 },
      { board: 'second', tick: 3, scheduledAt: 1_100 },
    ]);
    expect(fired.map((tick) => tick.tick)).toEqual([1, 2, 3]);
  });
});
