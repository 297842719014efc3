import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { TimeoutError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { constant } from './backoff.js';
import { BrokenCircuitError } from './broken-circuit-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { consecutive } from './consecutive.js';
import { fallback } from './fallback.js';
import type { ExecuteOptions, Policy, PolicyTask } from './policy.js';
import { retryPolicy } from './retry-policy.js';
import { timeoutPolicy } from './timeout-policy.js';
import { wrap } from './wrap.js';

/** A policy that logs when a call enters and leaves it, and what signal it was given. */
function traced(name: string, log: string[], signals: AbortSignal[] = []): Policy {
  return {
    async execute<T>(task: PolicyTask<T>, options?: ExecuteOptions): Promise<T> {
      log.push(`enter ${name}`);
      if (options?.signal) signals.push(options.signal);
      try {
        return await task(options?.signal ?? new AbortController().signal, options?.context ?? { attempt: 1 });
      } finally {
        log.push(`leave ${name}`);
      }
    },
  };
}

describe('wrap', () => {
  it('applies policies outside-in', async () => {
    const log: string[] = [];
    await wrap(traced('a', log), traced('b', log), traced('c', log)).execute(() => {
      log.push('task');
    });
    expect(log).toEqual(['enter a', 'enter b', 'enter c', 'task', 'leave c', 'leave b', 'leave a']);
  });

  it('hands the same caller signal through every layer that does not make its own', async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    let taskSignal: AbortSignal | undefined;
    const breaker = new CircuitBreaker({ policy: consecutive(5) });
    await wrap(traced('a', [], signals), retryPolicy(), breaker, traced('b', [], signals)).execute(
      (signal) => {
        taskSignal = signal;
      },
      { signal: controller.signal },
    );
    expect(signals).toEqual([controller.signal, controller.signal]);
    expect(taskSignal).toBe(controller.signal);
  });

  it('links the task signal to the caller through a timeout layer, so a caller abort reaches the task', async () => {
    const controller = new AbortController();
    const outcome = wrap(retryPolicy(), timeoutPolicy(60_000))
      .execute((signal) => sleep(60_000, { signal }), { signal: controller.signal })
      .catch((e: unknown) => e);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await outcome).toBe(reason);
  });

  it('carries the retry attempt number to the innermost task', async () => {
    const attempts: number[] = [];
    await wrap(retryPolicy({ maxAttempts: 3, backoff: constant(0) }), new CircuitBreaker({ policy: consecutive(10) }), timeoutPolicy(1_000)).execute(
      (_signal, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error('again');
      },
    );
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('gives each attempt its own deadline when the timeout is inside the retry', async () => {
    vi.useFakeTimers({ now: 0 });
    const starts: number[] = [];
    const outcome = wrap(retryPolicy({ maxAttempts: 3, backoff: constant(0) }), timeoutPolicy(100))
      .execute((signal) => {
        starts.push(Date.now());
        return sleep(1_000, { signal });
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(302);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    // A zero backoff still yields one timer tick (1 ms) between attempts.
    expect(starts).toEqual([0, 101, 202]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('bounds all attempts together when the timeout is outside the retry', async () => {
    vi.useFakeTimers({ now: 0 });
    const starts: number[] = [];
    const outcome = wrap(timeoutPolicy(250), retryPolicy({ maxAttempts: 10, backoff: constant(100) }))
      .execute(() => {
        starts.push(Date.now());
        return Promise.reject(new Error('down'));
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(250);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(starts).toEqual([0, 100, 200]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops retrying when a breaker inside the retry opens (BrokenCircuitError is not retried)', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(2), openMs: 60_000 });
    let calls = 0;
    const error = await wrap(retryPolicy({ maxAttempts: 10, backoff: constant(0) }), breaker)
      .execute(() => {
        calls++;
        throw new Error('down');
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(calls).toBe(2);
  });

  it('sees one outcome per retried call when the breaker is outside the retry', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(2) });
    await wrap(breaker, retryPolicy({ maxAttempts: 3, backoff: constant(0) }))
      .execute(() => {
        throw new Error('down');
      })
      .catch(() => {});
    expect(breaker.stats).toMatchObject({ failures: 1, recentFailures: 1 });
    expect(breaker.state).toBe('closed');
  });

  it('answers with the fallback when the layers inside give up, and types the result', async () => {
    const policy = wrap(fallback('cached'), retryPolicy({ maxAttempts: 2, backoff: constant(0) }));
    const result = policy.execute(async (): Promise<number> => {
      throw new Error('down');
    });
    expectTypeOf(result).toEqualTypeOf<Promise<number | string>>();
    await expect(result).resolves.toBe('cached');
    expectTypeOf(wrap(retryPolicy(), timeoutPolicy(1)).execute(async () => 1)).toEqualTypeOf<Promise<number>>();
  });

  it('validates its arguments', () => {
    expect(() => wrap()).toThrow(/at least one policy/);
    expect(() => wrap(retryPolicy(), {} as never)).toThrow(/policy 1 must have an execute/);
    expect(() => wrap(retryPolicy()).execute(1 as never)).toThrow(/task must be a function/);
  });
});
