import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks, untilAborted } from '../../test/helpers.js';
import { CancelledError, suppressedErrors } from '../core/errors.js';
import { mapIterable, type MappedIterator } from './map-iterable.js';

async function* counting(log: { pulled: number; closed: boolean }, count = Infinity) {
  try {
    for (let i = 0; i < count; i++) {
      log.pulled++;
      yield i;
    }
  } finally {
    log.closed = true;
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('mapIterable', () => {
  it('yields results in input order by default', async () => {
    const delays = [4, 0, 2, 1, 3];
    const results = await collect(
      mapIterable(delays, (ms, index) => new Promise<number>((resolve) => setTimeout(() => resolve(index), ms)), { concurrency: 3 }),
    );
    expect(results).toEqual([0, 1, 2, 3, 4]);
  });

  it('yields results as they finish with ordered: false', async () => {
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const iterator = mapIterable([0, 1, 2], (i) => gates[i]!.promise, { concurrency: 3, ordered: false });
    const first = iterator.next();
    await flushMicrotasks();
    gates[2]!.resolve('c');
    expect(await first).toEqual({ done: false, value: 'c' });
    gates[0]!.resolve('a');
    gates[1]!.resolve('b');
    expect(await collect(iterator)).toEqual(['a', 'b']);
  });

  it('does nothing until the consumer asks', async () => {
    const log = { pulled: 0, closed: false };
    const fn = vi.fn((n: number) => n);
    const iterator = mapIterable(counting(log), fn, { concurrency: 4 });
    await flushMicrotasks();
    expect(log.pulled).toBe(0);
    expect(fn).not.toHaveBeenCalled();
    await iterator.return();
  });

  // One more than `concurrency + buffer`: the value on its way to the loop body was taken but not yet counted.
  it('keeps memory bounded with a slow consumer: started calls stay within concurrency + buffer of consumed', async () => {
    const log = { pulled: 0, closed: false };
    let started = 0;
    let consumed = 0;
    let maxAhead = 0;
    const iterator = mapIterable(counting(log), async (n) => {
      started++;
      await Promise.resolve();
      return n;
    }, { concurrency: 4, buffer: 2 });
    for await (const _value of iterator) {
      consumed++;
      await flushMicrotasks(10); // a slow consumer: the producer side gets every chance to run ahead
      maxAhead = Math.max(maxAhead, started - consumed);
      if (consumed === 200) break;
    }
    expect(maxAhead).toBeLessThanOrEqual(4 + 2 + 1);
    expect(started).toBeLessThanOrEqual(consumed + 4 + 2 + 1);
    expect(log.pulled).toBeLessThanOrEqual(consumed + 4 + 2 + 1);
    expect(log.closed).toBe(true);
  });

  it('runs at most `concurrency` calls at once', async () => {
    let running = 0;
    let peak = 0;
    const results = await collect(
      mapIterable(Array.from({ length: 40 }, (_, i) => i), async (n) => {
        peak = Math.max(peak, ++running);
        await flushMicrotasks(3);
        running--;
        return n;
      }, { concurrency: 3, buffer: 10, ordered: false }),
    );
    expect(results).toHaveLength(40);
    expect(peak).toBe(3);
  });

  it('on break: aborts calls in flight, closes the source and waits for the calls to settle', async () => {
    const log = { pulled: 0, closed: false };
    const reasons: unknown[] = [];
    let settledCalls = 0;
    const othersStarted = deferred();
    const iterator = mapIterable(counting(log), async (n, _i, signal) => {
      if (n === 0) {
        await othersStarted.promise;
        return n;
      }
      if (n === 2) othersStarted.resolve();
      try {
        await untilAborted(signal);
      } catch (reason) {
        reasons.push(reason);
        await flushMicrotasks(3);
      } finally {
        settledCalls++;
      }
      return n;
    }, { concurrency: 3 });
    for await (const value of iterator) {
      expect(value).toBe(0);
      break;
    }
    expect(log.closed).toBe(true);
    expect(reasons.length).toBe(2);
    expect(reasons.every((reason) => reason instanceof CancelledError)).toBe(true);
    expect(settledCalls).toBe(reasons.length);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('on a failing call: aborts the others, closes the source, and the loop throws the failure', async () => {
    const log = { pulled: 0, closed: false };
    const boom = new Error('boom');
    const aborted: unknown[] = [];
    const iterator = mapIterable(counting(log), async (n, _i, signal) => {
      if (n === 1) {
        await flushMicrotasks(2);
        throw boom;
      }
      await untilAborted(signal).catch((reason: unknown) => aborted.push(reason));
      return n;
    }, { concurrency: 3 });
    await expect(collect(iterator)).rejects.toBe(boom);
    expect(log.closed).toBe(true);
    expect(aborted.length).toBe(2);
    expect((aborted[0] as Error).cause).toBe(boom);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('keeps later genuine failures reachable through suppressedErrors', async () => {
    const first = new Error('first');
    const second = new Error('second');
    const error = await collect(mapIterable([1, 2], async (n, _i, signal) => {
      if (n === 1) {
        await flushMicrotasks(2);
        throw first;
      }
      await untilAborted(signal).catch(() => {
        throw second;
      });
    }, { concurrency: 2 })).catch((e: unknown) => e);
    expect(error).toBe(first);
    expect(suppressedErrors(error)).toEqual([second]);
  });

  it('throws the error of a source that fails, without calling its return()', async () => {
    const boom = new Error('source broke');
    let returned = false;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(boom),
        return: () => {
          returned = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    await expect(collect(mapIterable(source, (n) => n))).rejects.toBe(boom);
    expect(returned).toBe(false);
  });

  it('aborts on the signal: running calls see it, the source is closed, next() rejects with the reason', async () => {
    const controller = new AbortController();
    const log = { pulled: 0, closed: false };
    const iterator = mapIterable(counting(log), (_n, _i, signal) => untilAborted(signal), {
      concurrency: 2,
      signal: controller.signal,
    });
    const pending = iterator.next();
    await flushMicrotasks();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(log.closed).toBe(true);
    expect(abortListenerCount(controller.signal)).toBe(0);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('rejects the first next() when the signal was already aborted, without reading the source', async () => {
    const controller = new AbortController();
    controller.abort(new Error('already'));
    const log = { pulled: 0, closed: false };
    const iterator = mapIterable(counting(log), (n) => n, { signal: controller.signal });
    await expect(iterator.next()).rejects.toThrow('already');
    expect(log.pulled).toBe(0);
  });

  it('settles after the grace period when a call ignores its signal, and reports it', async () => {
    vi.useFakeTimers();
    const onStraggler = vi.fn();
    const iterator = mapIterable([1, 2], (n) => (n === 1 ? 1 : new Promise<number>(() => {})), {
      concurrency: 2,
      graceMs: 500,
      onStraggler,
    });
    expect(await iterator.next()).toEqual({ done: false, value: 1 });
    const closing = iterator.return();
    await vi.advanceTimersByTimeAsync(500);
    expect(await closing).toEqual({ done: true, value: undefined });
    expect(onStraggler).toHaveBeenCalledWith(expect.objectContaining({ operation: 'mapIterable', pending: 1 }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('works with a synchronous mapper and a synchronous source', async () => {
    expect(await collect(mapIterable(new Set([1, 2, 3]), (n) => n * n, { concurrency: 2 }))).toEqual([1, 4, 9]);
  });

  it('rejects invalid arguments with messages that say what is allowed', () => {
    expect(() => mapIterable([1], (n) => n, { concurrency: 0 })).toThrow('concurrency must be an integer >= 1, got 0');
    expect(() => mapIterable([1], (n) => n, { concurrency: Infinity })).toThrow(RangeError);
    expect(() => mapIterable([1], (n) => n, { buffer: -1 })).toThrow('buffer must be an integer >= 0, got -1');
    expect(() => mapIterable([1], (n) => n, { ordered: 1 as any })).toThrow(TypeError);
    expect(() => mapIterable(null as any, (n) => n)).toThrow(TypeError);
  });

  it('infers the element type', () => {
    expectTypeOf(mapIterable([1], async (n) => String(n))).toEqualTypeOf<MappedIterator<string>>();
  });
});

describe('mapIterable under any interleaving', () => {
  it('never exceeds concurrency nor the buffer bound, and yields every result exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10 }),
        async (s, concurrency, buffer, ordered, count) => {
          let running = 0;
          let peak = 0;
          let started = 0;
          let consumed = 0;
          let maxAhead = 0;
          const iterator = mapIterable(
            Array.from({ length: count }, (_, i) => i),
            async (n) => {
              started++;
              maxAhead = Math.max(maxAhead, started - consumed);
              peak = Math.max(peak, ++running);
              await s.schedule(Promise.resolve(), `call ${n}`);
              running--;
              return n;
            },
            { concurrency, buffer, ordered },
          );
          const consume = (async () => {
            const out: number[] = [];
            for await (const value of iterator) {
              consumed++;
              out.push(value);
              await s.schedule(Promise.resolve(), `consume ${value}`);
            }
            return out;
          })();
          const out = await s.waitFor(consume);
          expect(peak).toBeLessThanOrEqual(concurrency);
          // + 1: the value handed to the loop body is taken before the body counts it.
          expect(maxAhead).toBeLessThanOrEqual(concurrency + buffer + 1);
          const expected = Array.from({ length: count }, (_, i) => i);
          expect(ordered ? out : [...out].sort((a, b) => a - b)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** An iterable whose iterator's `next()` returns `step` (sync) or a promise of it (async). */
function badSource(step: unknown, async: boolean): Iterable<number> | AsyncIterable<number> {
  if (async) return { [Symbol.asyncIterator]: () => ({ next: async () => step as IteratorResult<number> }) };
  return { [Symbol.iterator]: () => ({ next: () => step as IteratorResult<number> }) };
}

describe('mapIterable, with hostile input and a consumer that takes buffered results', () => {
  for (const ordered of [true, false]) {
    it(`refills a slot freed by a buffered result at once (ordered: ${ordered})`, async () => {
      const gates = Array.from({ length: 6 }, () => deferred<number>());
      const started: number[] = [];
      const mapped = mapIterable([0, 1, 2, 3, 4, 5], (n) => {
        started.push(n);
        return gates[n]!.promise;
      }, { concurrency: 2, buffer: 0, ordered });
      const first = mapped.next();
      gates[0]!.resolve(0);
      expect(await first).toEqual({ done: false, value: 0 });
      gates[1]!.resolve(1);
      gates[2]!.resolve(2);
      await flushMicrotasks();
      // Results 1 and 2 wait for the consumer and fill the window: nothing else may start.
      expect(started).toEqual([0, 1, 2]);
      // Taking result 1 frees a place in the window, so item 3 must start now, not once 2 is taken too.
      expect(await mapped.next()).toEqual({ done: false, value: 1 });
      expect(started).toEqual([0, 1, 2, 3]);
      await mapped.return();
    });
  }

  for (const async of [false, true]) {
    for (const step of [null, 42, 'x', undefined]) {
      it(`rejects with a TypeError when a${async ? 'n async' : ''} source's next() gives ${String(step)}`, async () => {
        const mapped = mapIterable(badSource(step, async), (n) => n);
        await expect(mapped.next()).rejects.toThrow(TypeError);
        await expect(mapped.next()).resolves.toEqual({ done: true, value: undefined });
      });
    }
  }
});
