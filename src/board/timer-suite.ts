/**
 * Test support: scheduled agents on boards sharing one store (the `shared` option), run against any
 * store: of all the boards, exactly one fires each tick. Each board opens its own handle on the store
 * (`env.open()`), as boards in other processes would.
 */
import { expect, it } from 'vitest';
import { Board } from './board.js';
import { TimerTick } from './builtins.js';
import type { SharedEnv } from './shared-suite.js';
import type { BoardStore, TimerFire, UnitResult } from './store/contract.js';

const FAST = { pollMs: 10 } as const;

/** The store, with the outcome of every `fireTimer` counted in `outcomes`. */
function counting(store: BoardStore, outcomes: Map<string, number>): BoardStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key !== 'fireTimer') return (value as (...args: unknown[]) => unknown).bind(target);
      return async (fire: TimerFire) => {
        const result = (await (value as (fire: TimerFire) => Promise<UnitResult>).call(target, fire)) ;
        const kind = fire.write === undefined ? `skip ${result.status}` : result.status;
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
        return result;
      };
    },
  });
}

/** Registers the shared-timer tests for boards on the store `env` opens. */
export function sharedTimerTests(env: SharedEnv): void {
  it('fires each tick of a timer once across boards that all declare it, each run on one board', async () => {
    const repeats = 8;
    const ran: { tick: number; board: string }[] = [];
    let allRan!: () => void;
    const done = new Promise<void>((resolve) => (allRan = resolve));
    const outcomes = new Map<string, number>();
    const boards = await Promise.all(['one', 'two', 'three'].map(async (name) => ({ name, board: new Board({ store: counting(await env.open(), outcomes), shared: FAST }) })));
    try {
      for (const { name, board } of boards) {
        board
          .agent('clock')
          .schedule({ every: 30, maxRepeats: repeats, missed: 'all' })
          .handle((_inputs, ctx) => {
            ran.push({ tick: ctx.timer!.tick, board: name });
            if (ran.length === repeats) allRan();
          });
      }
      await done;
      await boards[0]!.board.runUntilIdle();
      const ticks = ran.map((r) => r.tick).sort((a, b) => a - b);
      expect(ticks).toEqual(Array.from({ length: repeats }, (_, i) => i + 1));
      const store = boards[0]!.board.store;
      const stored = await store.list({ type: TimerTick });
      expect(stored.map((tick) => (tick.payload as { tick: number }).tick).sort((a, b) => a - b)).toEqual(ticks);
      expect(await store.listTimers!()).toEqual([expect.objectContaining({ name: 'clock', ticks: repeats, nextDueAt: undefined })]);
      expect(await store.listRuns()).toEqual([]);
      // Every tick applied once: a board that read a timer another had just moved was refused (a conflict).
      expect(outcomes.get('applied')).toBe(repeats);
    } finally {
      await Promise.all(boards.map(({ board }) => board.shutdown()));
    }
  });
}
