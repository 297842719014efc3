/**
 * The store contract's optional parts (timers, the key/value space), described by
 * `describeStoreContract` for every store.
 */
import { describe, expect, it } from 'vitest';
import type { BoardStore } from '../store/contract.js';
import { T0, type Fixtures } from './store-contract-fixtures.js';

type WithStore = (test: (store: BoardStore, f: Fixtures) => Promise<void>) => () => Promise<void>;

/** The timer and key/value tests, with the suite's `withStore`. */
export function describeOptionalContract(withStore: WithStore): void {
    describe('timers', () => {
      const timerStore = (store: BoardStore) => store as Required<Pick<BoardStore, 'registerTimer' | 'fireTimer' | 'dueTimers' | 'nextTimerDue' | 'listTimers'>>;
      const tick = (f: Fixtures, agent = 'clock', correlationId = 'timer:clock:1') => f.scheduled(agent, { type: 'TimerTick', producedBy: 'board', correlationId });

      it(
        'registers a timer once: the same fingerprint keeps its state, another starts it over with its ticks kept',
        withStore(async (store, f) => {
          const timers = timerStore(store);
          const first = await timers.registerTimer({ name: 'clock', fingerprint: 'every 100', firstDueAt: T0 + 100 });
          expect(first).toEqual({ name: 'clock', fingerprint: 'every 100', workflow: undefined, nextDueAt: T0 + 100, ticks: 0, version: 1 });
          await timers.fireTimer({ name: 'clock', version: 1, ticks: 1, nextDueAt: T0 + 200, write: tick(f), now: T0 + 100 });
          const again = await timers.registerTimer({ name: 'clock', fingerprint: 'every 100', firstDueAt: T0 + 999 });
          expect(again).toEqual({ name: 'clock', fingerprint: 'every 100', workflow: undefined, nextDueAt: T0 + 200, ticks: 1, version: 2 });
          const changed = await timers.registerTimer({ name: 'clock', fingerprint: 'every 50', workflow: 'wf', firstDueAt: T0 + 250 });
          expect(changed).toEqual({ name: 'clock', fingerprint: 'every 50', workflow: 'wf', nextDueAt: T0 + 250, ticks: 1, version: 3 });
          expect(await timers.listTimers()).toEqual([changed]);
        }),
      );

      it(
        'fires a tick in one unit: the timer moves and the tick and its run are stored, only at the version read',
        withStore(async (store, f) => {
          const timers = timerStore(store);
          await timers.registerTimer({ name: 'clock', fingerprint: 'x', firstDueAt: T0 + 100 });
          const write = tick(f);
          const fired = await timers.fireTimer({ name: 'clock', version: 1, ticks: 1, nextDueAt: T0 + 200, write, now: T0 + 100 });
          expect(fired.status).toBe('applied');
          expect(fired.runs.map((run) => [run.agent, run.inputIds])).toEqual([['clock', [write.artifact.id]]]);
          expect((await store.getArtifacts([write.artifact.id]))[0]).toEqual(write.artifact);
          // A second board that read the same version: refused, nothing stored.
          const late = tick(f);
          const refused = await timers.fireTimer({ name: 'clock', version: 1, ticks: 1, nextDueAt: T0 + 200, write: late, now: T0 + 100 });
          expect(refused.status).toBe('conflict');
          expect((await store.getArtifacts([late.artifact.id]))[0]).toBeUndefined();
          expect(await store.listRuns({ agent: 'clock' })).toHaveLength(1);
          expect((await timers.listTimers())[0]).toMatchObject({ nextDueAt: T0 + 200, ticks: 1, version: 2 });
          // A skip moves the timer without a tick; a fire with no next slot ends it.
          expect((await timers.fireTimer({ name: 'clock', version: 2, ticks: 1, nextDueAt: T0 + 900, now: T0 + 500 })).status).toBe('applied');
          expect((await timers.fireTimer({ name: 'clock', version: 3, ticks: 2, nextDueAt: undefined, write: tick(f, 'clock', 'timer:clock:2'), now: T0 + 900 })).status).toBe('applied');
          expect((await timers.listTimers())[0]).toMatchObject({ nextDueAt: undefined, ticks: 2, version: 4 });
          expect(await timers.nextTimerDue(['clock'])).toBeUndefined();
          expect((await timers.fireTimer({ name: 'unknown', version: 1, ticks: 1, nextDueAt: undefined, now: T0 })).status).toBe('conflict');
        }),
      );

      it(
        'answers due timers (earliest first, among the names asked) and the next slot, leaving out timers of paused or cancelled workflows',
        withStore(async (store) => {
          const timers = timerStore(store);
          await timers.registerTimer({ name: 'late', fingerprint: 'x', firstDueAt: T0 + 300 });
          await timers.registerTimer({ name: 'early', fingerprint: 'x', firstDueAt: T0 + 100 });
          await timers.registerTimer({ name: 'other', fingerprint: 'x', firstDueAt: T0 + 50 });
          await timers.registerTimer({ name: 'held', fingerprint: 'x', workflow: 'wf-held', firstDueAt: T0 + 10 });
          const names = ['late', 'early', 'held'];
          expect(await timers.nextTimerDue(names)).toBe(T0 + 10);
          expect((await timers.dueTimers(names, T0 + 300, 10)).map((timer) => timer.name)).toEqual(['held', 'early', 'late']);
          expect((await timers.dueTimers(names, T0 + 300, 1)).map((timer) => timer.name)).toEqual(['held']);
          await store.setWorkflowState('wf-held', 'paused');
          expect(await timers.nextTimerDue(names)).toBe(T0 + 100);
          expect((await timers.dueTimers(names, T0 + 200, 10)).map((timer) => timer.name)).toEqual(['early']);
          await store.setWorkflowState('wf-held', 'active');
          expect(await timers.nextTimerDue(names)).toBe(T0 + 10);
          await store.setWorkflowState('wf-held', 'cancelled');
          expect((await timers.dueTimers(names, T0 + 300, 10)).map((timer) => timer.name)).toEqual(['early', 'late']);
          expect(await timers.nextTimerDue([])).toBeUndefined();
        }),
      );

      it(
        'refuses a tick into a cancelled workflow (nothing applied, the timer unmoved)',
        withStore(async (store, f) => {
          const timers = timerStore(store);
          await timers.registerTimer({ name: 'clock', fingerprint: 'x', workflow: 'gone', firstDueAt: T0 + 100 });
          await store.setWorkflowState('gone', 'cancelled');
          const result = await timers.fireTimer({ name: 'clock', version: 1, ticks: 1, nextDueAt: T0 + 200, write: tick(f, 'clock', 'gone'), now: T0 + 100 });
          expect(result.status).toBe('cancelled');
          expect((await timers.listTimers())[0]).toMatchObject({ nextDueAt: T0 + 100, ticks: 0, version: 1 });
          expect(await store.listRuns()).toEqual([]);
        }),
      );

      it(
        'fires each tick once when many fire the same timer at once',
        withStore(async (store, f) => {
          const timers = timerStore(store);
          await timers.registerTimer({ name: 'clock', fingerprint: 'x', firstDueAt: T0 + 100 });
          const results = await Promise.all(
            Array.from({ length: 8 }, async () => timers.fireTimer({ name: 'clock', version: 1, ticks: 1, nextDueAt: T0 + 200, write: tick(f), now: T0 + 100 })),
          );
          expect(results.filter((result) => result.status === 'applied')).toHaveLength(1);
          expect(results.filter((result) => result.status === 'conflict')).toHaveLength(7);
          expect(await store.listRuns({ agent: 'clock' })).toHaveLength(1);
        }),
      );
    });

    describe('the key/value space', () => {
      it(
        'keeps JSON values per namespace, in the order first put; puts replace, deletes answer whether there was one',
        withStore(async (store) => {
          if (store.listValues === undefined || store.putValue === undefined || store.deleteValue === undefined) throw new Error('this store has no key/value space');
          expect(await store.listValues('hooks')).toEqual([]);
          await store.putValue('hooks', 'b', { url: 'http://x/b', types: ['*'] });
          await store.putValue('hooks', 'a', { url: 'http://x/a', n: 1.5, nested: [null, 'é'] });
          await store.putValue('other', 'a', 'another namespace');
          await store.putValue('hooks', 'b', { url: 'http://x/b2' });
          expect(await store.listValues('hooks')).toEqual([
            { key: 'b', value: { url: 'http://x/b2' } },
            { key: 'a', value: { url: 'http://x/a', n: 1.5, nested: [null, 'é'] } },
          ]);
          expect(await store.deleteValue('hooks', 'b')).toBe(true);
          expect(await store.deleteValue('hooks', 'b')).toBe(false);
          expect(await store.listValues('hooks')).toEqual([{ key: 'a', value: { url: 'http://x/a', n: 1.5, nested: [null, 'é'] } }]);
          expect(await store.listValues('other')).toEqual([{ key: 'a', value: 'another namespace' }]);
          await expect(async () => store.putValue!('', 'k', 1)).rejects.toThrow(TypeError);
          await expect(async () => store.putValue!('ns', 'k\u0000', 1)).rejects.toThrow(/NUL/);
          await expect(async () => store.putValue!('ns', 'k', () => 1)).rejects.toThrow(/JSON-serialisable/);
          await expect(async () => store.putValue!('ns', 'k', { big: 1n })).rejects.toThrow(/JSON-serialisable/);
        }),
      );
    });
}
