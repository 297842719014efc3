import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks, untilAborted } from '../../test/helpers.js';
import { CancelledError, suppressedErrors } from '../core/errors.js';
import { map } from './map.js';

/** An iterable over 0..count-1 that records how far it was read and whether return() was called. */
function trackedIterable(count: number) {
  const state = { pulled: 0, returned: 0 };
  const iterable: Iterable<number> = {
    [Symbol.iterator]() {
      let i = 0;
      return {
        next: () => {
          if (i >= count) return { done: true, value: undefined };
          state.pulled++;
          return { done: false, value: i++ };
        },
        return: () => {
          state.returned++;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, state };
}

async function* asyncRange(count: number, log: { closed: boolean; pulled: number }) {
  try {
    for (let i = 0; i < count; i++) {
      await Promise.resolve();
      log.pulled++;
      yield i;
    }
  } finally {
    log.closed = true;
  }
}

describe('map', () => {
  it('maps an array in input order whatever order the calls finish in', async () => {
    const delays = [5, 1, 3, 0, 2];
    const result = await map(delays, (ms, index) => new Promise<number>((resolve) => setTimeout(() => resolve(index * 10), ms)), {
      concurrency: 2,
    });
    expect(result).toEqual([0, 10, 20, 30, 40]);
  });

  it('passes item, index and a signal to the mapper', async () => {
    const seen: unknown[] = [];
    await map(['a', 'b'], (item, index, signal) => {
      seen.push([item, index, signal instanceof AbortSignal]);
    });
    expect(seen).toEqual([
      ['a', 0, true],
      ['b', 1, true],
    ]);
  });

  it('maps sync iterables, generators and async iterables', async () => {
    expect(await map(new Set([1, 2, 3]), (n) => n * 2, { concurrency: 2 })).toEqual([2, 4, 6]);
    function* gen() {
      yield 'x';
      yield 'y';
    }
    expect(await map(gen(), (s) => s.toUpperCase())).toEqual(['X', 'Y']);
    const log = { closed: false, pulled: 0 };
    expect(await map(asyncRange(5, log), async (n) => n + 1, { concurrency: 3 })).toEqual([1, 2, 3, 4, 5]);
  });

  it('resolves an empty input to an empty array', async () => {
    expect(await map([], () => 1)).toEqual([]);
    expect(await map(new Set(), () => 1, { concurrency: 1 })).toEqual([]);
  });

  it('never runs more than `concurrency` calls at once, for arrays and iterables', async () => {
    for (const source of [Array.from({ length: 30 }, (_, i) => i), new Set(Array.from({ length: 30 }, (_, i) => i))]) {
      let running = 0;
      let peak = 0;
      await map(source, async () => {
        peak = Math.max(peak, ++running);
        await flushMicrotasks(3);
        running--;
      }, { concurrency: 4 });
      expect(peak).toBe(4);
    }
  });

  it('pulls a lazy source only as calls can start', async () => {
    const { iterable, state } = trackedIterable(100);
    const gate = deferred();
    const mapping = map(iterable, () => gate.promise, { concurrency: 3 });
    await flushMicrotasks();
    expect(state.pulled).toBe(3);
    gate.resolve();
    await mapping;
    expect(state.pulled).toBe(100);
    expect(state.returned).toBe(0);
  });

  it('fails fast: aborts running calls, stops pulling, closes the source, waits, then rejects with the failure', async () => {
    const { iterable, state } = trackedIterable(1_000);
    const boom = new Error('boom');
    const aborted: unknown[] = [];
    let stillRunning = 0;
    const cleanup = deferred();
    const mapping = map(
      iterable,
      async (n, _index, signal) => {
        if (n === 2) {
          await flushMicrotasks(2);
          throw boom;
        }
        stillRunning++;
        try {
          await untilAborted(signal);
        } catch (reason) {
          aborted.push(reason);
          await cleanup.promise;
        } finally {
          stillRunning--;
        }
      },
      { concurrency: 4 },
    );
    let settled = false;
    void mapping.catch(() => {}).finally(() => (settled = true));
    await flushMicrotasks(30);
    expect(aborted).toHaveLength(3);
    expect(aborted[0]).toBeInstanceOf(CancelledError);
    expect((aborted[0] as Error).cause).toBe(boom);
    expect(state.returned).toBe(1);
    expect(settled).toBe(false); // the aborted calls are still cleaning up
    cleanup.resolve();
    await expect(mapping).rejects.toBe(boom);
    expect(stillRunning).toBe(0);
    expect(state.pulled).toBe(4);
  });

  it('keeps later genuine failures reachable through suppressedErrors, not cancellations', async () => {
    const first = new Error('first');
    const second = new Error('second, while cleaning up');
    const error = await map([1, 2, 3], async (n, _i, signal) => {
      if (n === 1) throw first;
      await untilAborted(signal).catch((reason: unknown) => {
        throw n === 2 ? second : reason;
      });
    }, { concurrency: 3 }).catch((e: unknown) => e);
    expect(error).toBe(first);
    expect(suppressedErrors(error)).toEqual([second]);
  });

  it('closes an async generator source on failure', async () => {
    const log = { closed: false, pulled: 0 };
    const boom = new Error('boom');
    await expect(
      map(asyncRange(1_000, log), (n) => {
        if (n === 3) throw boom;
        return n;
      }, { concurrency: 2 }),
    ).rejects.toBe(boom);
    expect(log.closed).toBe(true);
    expect(log.pulled).toBeLessThan(10);
  });

  it('rejects with the error of a source that throws, without calling its return()', async () => {
    const boom = new Error('source broke');
    let returned = false;
    const source: Iterable<number> = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw boom;
        },
        return: () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    await expect(map(source, (n) => n)).rejects.toBe(boom);
    expect(returned).toBe(false);
  });

  it('collects every outcome with settle: true and aborts nothing', async () => {
    const boom = new Error('boom');
    const signals: AbortSignal[] = [];
    const result = await map(
      [1, 2, 3],
      async (n, _i, signal) => {
        signals.push(signal);
        if (n === 2) throw boom;
        return n;
      },
      { settle: true, concurrency: 1 },
    );
    expect(result).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(signals.some((signal) => signal.aborted)).toBe(false);
  });

  it('rejects at once, calling nothing, when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const fn = vi.fn();
    await expect(map([1, 2], fn, { signal: controller.signal })).rejects.toThrow('too late');
    expect(fn).not.toHaveBeenCalled();
  });

  it('aborts running calls when the signal aborts, closes the source and rejects with the reason', async () => {
    const controller = new AbortController();
    const { iterable, state } = trackedIterable(100);
    const seen: unknown[] = [];
    const mapping = map(iterable, (_n, _i, signal) => untilAborted(signal).catch((reason: unknown) => seen.push(reason)), {
      concurrency: 2,
      signal: controller.signal,
    });
    await flushMicrotasks();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(mapping).rejects.toBe(reason);
    expect(seen).toEqual([reason, reason]);
    expect(state.returned).toBe(1);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('settles after the grace period when a call ignores its signal, and reports it', async () => {
    vi.useFakeTimers();
    const onStraggler = vi.fn();
    const mapping = map([1, 2], (n) => (n === 1 ? Promise.reject(new Error('boom')) : new Promise(() => {})), {
      graceMs: 1_000,
      onStraggler,
    });
    const outcome = mapping.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await outcome).toMatchObject({ message: 'boom' });
    expect(onStraggler).toHaveBeenCalledWith(expect.objectContaining({ operation: 'map', pending: 1, graceMs: 1_000 }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not grow the listeners of a signal reused across many maps', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await map([1, 2, 3], (n) => n, { signal: controller.signal, concurrency: 2 });
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('runs every call in the async context of the caller', async () => {
    const storage = new AsyncLocalStorage<string>();
    const stores = await storage.run('caller', () => map([1, 2, 3, 4], async () => {
      await flushMicrotasks(2);
      return storage.getStore();
    }, { concurrency: 2 }));
    expect(stores).toEqual(['caller', 'caller', 'caller', 'caller']);
    storage.disable();
  });

  it('rejects invalid arguments with messages that say what is allowed', () => {
    expect(() => map([1], (n) => n, { concurrency: 0 })).toThrow('concurrency must be an integer >= 1 or Infinity, got 0');
    expect(() => map(42 as any, (n) => n)).toThrow('items must be an iterable or an async iterable, got 42');
    expect(() => map([1], 'fn' as any)).toThrow('fn must be a function, got "fn"');
    expect(() => map([1], (n) => n, { settle: 'yes' as any })).toThrow(TypeError);
    expect(() => map([1], (n) => n, { signal: {} as any })).toThrow(TypeError);
  });

  it('infers result types', () => {
    expectTypeOf(map([1], async (n) => String(n))).toEqualTypeOf<Promise<string[]>>();
    expectTypeOf(map([1], (n) => n, { settle: true })).toEqualTypeOf<Promise<PromiseSettledResult<number>[]>>();
  });
});

describe('map under any interleaving', () => {
  it('never exceeds `concurrency`, returns results in order, and settles only after every call settled', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { minLength: 0, maxLength: 10 }),
        async (s, concurrency, fails) => {
          let running = 0;
          let peak = 0;
          const mapping = map(
            fails,
            async (fail, index, signal) => {
              peak = Math.max(peak, ++running);
              try {
                await Promise.race([s.schedule(Promise.resolve(), `call ${index}`), untilAborted(signal)]);
                if (fail) throw new Error(`call ${index} failed`);
                return index;
              } finally {
                running--;
              }
            },
            { concurrency },
          ).then(
            (value) => ({ ok: true as const, value, running }),
            (error: unknown) => ({ ok: false as const, error, running }),
          );
          const outcome = await s.waitFor(mapping);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(outcome.running).toBe(0);
          if (outcome.ok) {
            expect(fails.includes(true)).toBe(false);
            expect(outcome.value).toEqual(fails.map((_, i) => i));
          } else {
            expect((outcome.error as Error).message).toMatch(/^call \d+ failed$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('map, with hostile input', () => {
  for (const async of [false, true]) {
    for (const step of [null, 42, undefined]) {
      it(`rejects with a TypeError when a${async ? 'n async' : ''} source's next() gives ${String(step)}`, async () => {
        const source = async
          ? { [Symbol.asyncIterator]: () => ({ next: async () => step as unknown as IteratorResult<number> }) }
          : { [Symbol.iterator]: () => ({ next: () => step as unknown as IteratorResult<number> }) };
        await expect(map(source, (n) => n, { concurrency: 2 })).rejects.toThrow(TypeError);
      });
    }
  }
});

describe('map options', () => {
  it('rejects an unknown option name with a TypeError naming the known ones', () => {
    expect(() => map([1], (n) => n, { concurency: 2 } as any)).toThrow(
      'map has no option "concurency"; its options are concurrency, signal, settle, graceMs, onStraggler',
    );
  });
});
