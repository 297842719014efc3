import { describe, expect, it, vi } from 'vitest';
import { constant } from './backoff.js';
import { retryPolicy } from './retry-policy.js';

describe('retryPolicy', () => {
  it('retries each execute call from the start of its backoff', async () => {
    vi.useFakeTimers({ now: 0 });
    const policy = retryPolicy({ maxAttempts: 3, backoff: [10, 20] });
    for (let round = 0; round < 2; round++) {
      const times: number[] = [];
      const result = policy.execute(() => {
        times.push(Date.now());
        return times.length < 3 ? Promise.reject(new Error('again')) : Promise.resolve(times.length);
      });
      await vi.advanceTimersByTimeAsync(30);
      await expect(result).resolves.toBe(3);
      expect(times.map((t) => t - times[0]!)).toEqual([0, 10, 30]);
    }
  });

  it('hands the task the execute signal and the attempt number', async () => {
    const controller = new AbortController();
    const seen: [AbortSignal, number][] = [];
    await retryPolicy({ backoff: constant(0) }).execute(
      (signal, { attempt }) => {
        seen.push([signal, attempt]);
        return attempt < 2 ? Promise.reject(new Error('x')) : Promise.resolve();
      },
      { signal: controller.signal },
    );
    expect(seen).toEqual([
      [controller.signal, 1],
      [controller.signal, 2],
    ]);
  });

  it('refuses a one-shot backoff iterator, which would be spent after the first call', () => {
    function* delays() {
      yield 1;
    }
    expect(() => retryPolicy({ backoff: delays() })).toThrow(/re-iterable/);
  });

  it('refuses a signal in its options: each call brings its own', () => {
    expect(() => retryPolicy({ signal: new AbortController().signal } as never)).toThrow(/take no signal/);
  });

  it('validates execute arguments', () => {
    const policy = retryPolicy();
    expect(() => policy.execute(null as never)).toThrow(/task must be a function/);
    expect(() => policy.execute(() => 1, { signal: 'x' as never })).toThrow(/options.signal/);
  });

  it('keeps a frozen copy of its options', () => {
    const options = { maxAttempts: 2 };
    const policy = retryPolicy(options);
    options.maxAttempts = 99;
    expect(policy.options.maxAttempts).toBe(2);
    expect(Object.isFrozen(policy.options)).toBe(true);
  });
});
