import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount } from '../../test/helpers.js';
import { CancelledError, TimeoutError } from '../core/errors.js';
import { constant } from './backoff.js';
import { BrokenCircuitError } from './broken-circuit-error.js';
import { retry, type RetryInfo } from './retry.js';

/** A task that fails `failures` times (recording when each attempt ran) and then returns 'ok'. */
function flaky(failures: number) {
  const calls: { attempt: number; at: number; signal: AbortSignal }[] = [];
  const errors: Error[] = [];
  const task = (signal: AbortSignal, { attempt }: { attempt: number }) => {
    calls.push({ attempt, at: Date.now(), signal });
    if (calls.length <= failures) {
      const error = new Error(`failure ${calls.length}`);
      errors.push(error);
      return Promise.reject(error);
    }
    return Promise.resolve('ok');
  };
  return { task, calls, errors };
}

describe('retry', () => {
  it('resolves with the value of a first success, calling the task once with attempt 1', async () => {
    const { task, calls } = flaky(0);
    await expect(retry(task)).resolves.toBe('ok');
    expect(calls.map((c) => c.attempt)).toEqual([1]);
  });

  it('waits the backoff delays between attempts, in order', async () => {
    vi.useFakeTimers({ now: 0 });
    const { task, calls } = flaky(3);
    const result = retry(task, { maxAttempts: 4, backoff: [100, 200, 400] });
    await vi.advanceTimersByTimeAsync(700);
    await expect(result).resolves.toBe('ok');
    expect(calls.map((c) => [c.attempt, c.at])).toEqual([
      [1, 0],
      [2, 100],
      [3, 300],
      [4, 700],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the last error itself, and reports the earlier ones through onRetry', async () => {
    vi.useFakeTimers({ now: 0 });
    const { task, errors } = flaky(5);
    const infos: RetryInfo[] = [];
    const result = retry(task, { maxAttempts: 3, backoff: constant(10), onRetry: (info) => infos.push(info) });
    const settled = result.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20);
    expect(await settled).toBe(errors[2]);
    expect(infos).toEqual([
      { error: errors[0], attempt: 1, delayMs: 10, elapsedMs: 0 },
      { error: errors[1], attempt: 2, delayMs: 10, elapsedMs: 10 },
    ]);
  });

  it('makes at most maxAttempts attempts', async () => {
    const { task, calls } = flaky(10);
    await expect(retry(task, { maxAttempts: 2, backoff: constant(0) })).rejects.toThrow('failure 2');
    expect(calls).toHaveLength(2);
  });

  it('makes 3 attempts by default', async () => {
    const { task, calls } = flaky(10);
    await expect(retry(task, { backoff: constant(0) })).rejects.toThrow('failure 3');
    expect(calls).toHaveLength(3);
  });

  it('stops when the backoff runs out, before maxAttempts', async () => {
    const { task, calls } = flaky(10);
    await expect(retry(task, { maxAttempts: Infinity, backoff: [0, 0] })).rejects.toThrow('failure 3');
    expect(calls).toHaveLength(3);
  });

  it('asks retryIf with the error and the attempt that failed, and stops when it says no', async () => {
    const { task, calls, errors } = flaky(10);
    const asked: [unknown, number][] = [];
    const retryIf = (error: unknown, attempt: number) => {
      asked.push([error, attempt]);
      return attempt < 2;
    };
    const error = await retry(task, { maxAttempts: 10, backoff: constant(0), retryIf }).catch((e: unknown) => e);
    expect(error).toBe(errors[1]);
    expect(asked).toEqual([
      [errors[0], 1],
      [errors[1], 2],
    ]);
    expect(calls).toHaveLength(2);
  });

  it('does not retry a cancellation or a BrokenCircuitError by default', async () => {
    for (const error of [new CancelledError(), new BrokenCircuitError(), Object.assign(new Error('x'), { name: 'AbortError' })]) {
      const task = vi.fn(() => Promise.reject(error));
      await expect(retry(task, { backoff: constant(0) })).rejects.toBe(error);
      expect(task).toHaveBeenCalledTimes(1);
    }
  });

  it('retries a TimeoutError by default', async () => {
    let calls = 0;
    const task = () => (++calls === 1 ? Promise.reject(new TimeoutError()) : Promise.resolve(calls));
    await expect(retry(task, { backoff: constant(0) })).resolves.toBe(2);
  });

  it('retries a cancellation when a custom retryIf asks for it', async () => {
    let calls = 0;
    const task = () => (++calls === 1 ? Promise.reject(new CancelledError()) : Promise.resolve(calls));
    await expect(retry(task, { backoff: constant(0), retryIf: () => true })).resolves.toBe(2);
  });

  it('rejects at once with the abort reason when aborted during a backoff wait, and starts no further attempt', async () => {
    vi.useFakeTimers({ now: 0 });
    const controller = new AbortController();
    const { task, calls } = flaky(10);
    const result = retry(task, { maxAttempts: 5, backoff: constant(10_000), signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    expect(await result).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('never calls the task when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new CancelledError('before'));
    const task = vi.fn(() => 'never');
    await expect(retry(task, { signal: controller.signal })).rejects.toBe(controller.signal.reason);
    expect(task).not.toHaveBeenCalled();
  });

  it('hands the caller signal itself to every attempt, and rejects with the abort reason once it aborted during an attempt', async () => {
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const failure = new Error('socket closed');
    const task = vi.fn((signal: AbortSignal) => {
      seen.push(signal);
      controller.abort();
      return Promise.reject(failure);
    });
    await expect(retry(task, { signal: controller.signal, retryIf: () => true, backoff: constant(0) })).rejects.toBe(
      controller.signal.reason,
    );
    expect(task).toHaveBeenCalledTimes(1);
    expect(seen[0]).toBe(controller.signal);
  });

  it('gives each attempt a signal even without a caller signal', async () => {
    const { task, calls } = flaky(1);
    await retry(task, { backoff: constant(0) });
    expect(calls.every((c) => c.signal instanceof AbortSignal && !c.signal.aborted)).toBe(true);
  });

  it('gives up at once when the next wait would reach maxElapsedMs', async () => {
    vi.useFakeTimers({ now: 0 });
    const { task, calls, errors } = flaky(10);
    const result = retry(task, { maxAttempts: Infinity, maxElapsedMs: 1_000, backoff: constant(400) }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(800);
    // attempts at 0 and 400; the third would start at 800 + 400 = 1200 > 1000: give up after the one at 800
    expect(await result).toBe(errors[2]);
    expect(calls.map((c) => c.at)).toEqual([0, 400, 800]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts maxElapsedMs from the first attempt, including the time attempts take (900 + 150 >= 1000)', async () => {
    vi.useFakeTimers({ now: 0 });
    let calls = 0;
    const slowFailure = () => {
      calls++;
      return new Promise<never>((_, reject) => setTimeout(() => reject(new Error('slow')), 900));
    };
    const result = retry(slowFailure, { maxAttempts: 10, maxElapsedMs: 1_000, backoff: constant(150) }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(900);
    expect(await result).toEqual(new Error('slow'));
    expect(calls).toBe(1);
  });

  it('yields to the timers between attempts even with a zero delay, so an abort timer can fire', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('enough')), 100);
    let calls = 0;
    const outcome = retry(() => {
      calls++;
      throw new Error('always');
    }, { backoff: constant(0), maxAttempts: Infinity, signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await outcome).toEqual(new Error('enough'));
    expect(calls).toBeLessThanOrEqual(101);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('handles a task that throws or returns synchronously', async () => {
    let calls = 0;
    const task = () => {
      if (++calls < 3) throw new Error('sync');
      return calls;
    };
    await expect(retry(task, { backoff: constant(0) })).resolves.toBe(3);
    await expect(retry(() => 'plain')).resolves.toBe('plain');
  });

  it('rejects with the error of an onRetry or retryIf that throws', async () => {
    const hookError = new Error('hook');
    const failing = () => Promise.reject(new Error('task'));
    await expect(retry(failing, { backoff: constant(0), onRetry: () => { throw hookError; } })).rejects.toBe(hookError);
    await expect(retry(failing, { backoff: constant(0), retryIf: () => { throw hookError; } })).rejects.toBe(hookError);
  });

  it('lets a generator backoff clean up when retrying ends', async () => {
    let closed = false;
    const backoff = {
      *[Symbol.iterator]() {
        try {
          while (true) yield 0;
        } finally {
          closed = true;
        }
      },
    };
    const { task } = flaky(1);
    await retry(task, { backoff });
    expect(closed).toBe(true);
  });

  it('rejects with a RangeError when the backoff yields an impossible delay', async () => {
    const { task } = flaky(1);
    await expect(retry(task, { backoff: [-5] })).rejects.toThrow(/backoff yielded -5/);
  });

  it('validates its arguments up front', () => {
    const task = () => 1;
    expect(() => retry(5 as never)).toThrow(/task must be a function, got 5/);
    expect(() => retry(task, 'fast' as never)).toThrow(/options must be an object/);
    expect(() => retry(task, { maxAttempts: 0 })).toThrow(/maxAttempts must be an integer >= 1 or Infinity, got 0/);
    expect(() => retry(task, { maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => retry(task, { maxElapsedMs: -1 })).toThrow(/maxElapsedMs/);
    expect(() => retry(task, { backoff: 100 as never })).toThrow(/backoff must be an iterable/);
    expect(() => retry(task, { retryIf: true as never })).toThrow(/retryIf must be a function/);
    expect(() => retry(task, { onRetry: 'log' as never })).toThrow(/onRetry must be a function/);
    expect(() => retry(task, { signal: {} as never })).toThrow(/options.signal must be an AbortSignal/);
  });

  it('never starts an attempt after an abort, whenever it lands, and leaves no timer behind', async () => {
    vi.useFakeTimers({ now: 0 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 300 }),
        async (delays, attemptMs, abortAt) => {
          const start = Date.now();
          const controller = new AbortController();
          const reason = new Error('abort');
          const starts: number[] = [];
          const outcome = retry(
            (signal) => {
              starts.push(Date.now() - start);
              return new Promise<never>((_, reject) => {
                const timer = setTimeout(() => reject(new Error('failed')), attemptMs);
                signal.addEventListener('abort', () => {
                  clearTimeout(timer);
                  reject(signal.reason);
                }, { once: true });
              });
            },
            { maxAttempts: Infinity, backoff: delays, signal: controller.signal },
          ).then(
            () => 'resolved',
            (error: unknown) => error,
          );
          const abortTimer = setTimeout(() => controller.abort(reason), abortAt);
          await vi.advanceTimersByTimeAsync(400 + delays.length * 100);
          clearTimeout(abortTimer);
          const error = await outcome;
          // Without an abort: every delay used, one attempt more than delays, the last failing at
          // `end`. A zero delay still waits for a timer, which Node (and the fake clock, when the
          // timer is set from inside another timer's callback) runs 1 ms later, not at once: so the
          // run ends somewhere from `end` (zero delays take 0 ms) to `latest` (they take 1 ms).
          const attempts = (delays.length + 1) * attemptMs;
          const end = attempts + delays.reduce((a, b) => a + b, 0);
          const latest = attempts + delays.reduce((a, b) => a + Math.max(b, 1), 0);
          expect(starts.every((at) => at <= abortAt)).toBe(true);
          if (abortAt <= end) {
            expect(error).toBe(reason);
          } else if (abortAt > latest) {
            expect(error).toEqual(new Error('failed'));
            expect(starts).toHaveLength(delays.length + 1);
          } else {
            // Between the two: the abort wins or the last attempt fails first; nothing else.
            if (error === reason) expect(starts.length).toBeLessThanOrEqual(delays.length + 1);
            else expect(error).toEqual(new Error('failed'));
          }
          expect(vi.getTimerCount()).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('infers the task value type', () => {
    expectTypeOf(retry(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(retry(() => 'x')).toEqualTypeOf<Promise<string>>();
  });
});

describe('retry, with async hooks and decisions on the result', () => {
  it('awaits an async retryIf: a promise of false is not a reason to retry', async () => {
    let calls = 0;
    const failure = new Error('fatal');
    const outcome = retry(() => {
      calls++;
      throw failure;
    }, { backoff: constant(0), retryIf: async () => false });
    await expect(outcome).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it('rejects with the error of an onRetry that rejects, instead of leaving it unhandled', async () => {
    const hookFailure = new Error('log sink down');
    let calls = 0;
    const outcome = retry(() => {
      calls++;
      throw new Error('flaky');
    }, { backoff: constant(0), onRetry: async () => Promise.reject(hookFailure) });
    await expect(outcome).rejects.toBe(hookFailure);
    expect(calls).toBe(1);
  });

  it('retries a value that retryIfResult rejects, and resolves with the last value when attempts run out', async () => {
    const statuses = [503, 503, 200];
    let calls = 0;
    const ok = await retry(() => statuses[calls++], { backoff: constant(0), retryIfResult: (status) => status === 503 });
    expect([ok, calls]).toEqual([200, 3]);
    calls = 0;
    const last = await retry(() => ++calls, { maxAttempts: 2, backoff: constant(0), retryIfResult: async () => true });
    expect(last).toBe(2);
  });

  it('calls onGiveUp once with the last error and the attempts made', async () => {
    const onGiveUp = vi.fn();
    const failure = new Error('down');
    await expect(retry(() => Promise.reject(failure), { maxAttempts: 3, backoff: constant(0), onGiveUp })).rejects.toBe(failure);
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ error: failure, attempts: 3 });
  });

  it('rejects with the abort reason when an attempt succeeds after the caller aborted', async () => {
    const controller = new AbortController();
    const outcome = retry(async () => {
      controller.abort(new Error('caller left'));
      return 'late value';
    }, { signal: controller.signal });
    await expect(outcome).rejects.toThrow('caller left');
  });
});

describe('retry options', () => {
  it('rejects an unknown option name with a TypeError naming the known ones', () => {
    expect(() => retry(() => 1, { retries: 2 } as any)).toThrow(/retry has no option "retries"; its options are maxAttempts/);
  });
});
