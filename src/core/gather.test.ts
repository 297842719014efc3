import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, untilAborted } from '../../test/helpers.js';
import { CancelledError, suppressedErrors, TimeoutError } from './errors.js';
import { gather } from './gather.js';
import { sleep } from './sleep.js';

describe('gather: results', () => {
  it('resolves with each value at its position and infers a tuple type', async () => {
    const result = await gather([async () => 1, () => 'two', async (signal: AbortSignal) => signal.aborted]);
    expect(result).toEqual([1, 'two', false]);
    expectTypeOf(result).toEqualTypeOf<[number, string, boolean]>();
  });

  it('resolves a record of tasks with a record of values', async () => {
    const result = await gather({ user: async () => ({ name: 'ada' }), count: () => 3 });
    expect(result).toEqual({ user: { name: 'ada' }, count: 3 });
    expectTypeOf(result).toEqualTypeOf<{ user: { name: string }; count: number }>();
  });

  it('infers an array type for an array of one task type', async () => {
    const tasks = [1, 2, 3].map((n) => async () => n * 2);
    const result = await gather(tasks);
    expect(result).toEqual([2, 4, 6]);
    expectTypeOf(result).toEqualTypeOf<number[]>();
  });

  it('resolves an empty array and an empty record at once', async () => {
    await expect(gather([])).resolves.toEqual([]);
    await expect(gather({})).resolves.toEqual({});
  });

  it('gives every task the same signal, not aborted on success, and leaves it unaborted', async () => {
    const signals: AbortSignal[] = [];
    await gather([(signal) => signals.push(signal), (signal) => signals.push(signal)]);
    expect(signals[0]).toBe(signals[1]);
    expect(signals[0]!.aborted).toBe(false);
  });

  it('adopts foreign thenables', async () => {
    const thenable = { then: (resolve: (value: number) => void) => resolve(7) };
    await expect(gather([() => thenable])).resolves.toEqual([7]);
  });
});

describe('gather: fail-fast', () => {
  it('aborts the siblings with a CancelledError caused by the first failure', async () => {
    const boom = new Error('boom');
    let seen: unknown;
    const error = await gather([
      async () => {
        throw boom;
      },
      async (signal) => {
        try {
          await untilAborted(signal);
        } finally {
          seen = signal.reason;
        }
      },
    ]).catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(seen).toBeInstanceOf(CancelledError);
    expect((seen as CancelledError).cause).toBe(boom);
  });

  it('rejects only after every sibling has finished its cleanup', async () => {
    const cleanup = deferred();
    const events: string[] = [];
    const gathering = gather([
      async () => {
        throw new Error('boom');
      },
      async (signal) => {
        await untilAborted(signal).catch(() => undefined);
        await cleanup.promise;
        events.push('sibling cleaned up');
      },
    ]).catch(() => events.push('gather rejected'));
    await sleep(5);
    expect(events).toEqual([]);
    cleanup.resolve();
    await gathering;
    expect(events).toEqual(['sibling cleaned up', 'gather rejected']);
  });

  it('reports the failure that happened first in time, not the first by position', async () => {
    const late = new Error('late');
    const early = new Error('early');
    const error = await gather([
      async (signal) => {
        await sleep(20, { signal }).catch(() => undefined);
        throw late;
      },
      async () => {
        await sleep(1);
        throw early;
      },
    ]).catch((e: unknown) => e);
    expect(error).toBe(early);
  });

  it('keeps other genuine failures reachable through suppressedErrors, but not the cancellations', async () => {
    const first = new Error('first');
    const cleanupFailure = new Error('cleanup failed');
    const error = await gather([
      async () => {
        throw first;
      },
      (signal) => untilAborted(signal),
      async (signal) => {
        await untilAborted(signal).catch(() => undefined);
        throw cleanupFailure;
      },
    ]).catch((e: unknown) => e);
    expect(error).toBe(first);
    expect(suppressedErrors(error)).toEqual([cleanupFailure]);
  });

  it('treats a synchronous throw as a failure and does not call the tasks after it', async () => {
    const boom = new Error('sync');
    const later = vi.fn(async () => 1);
    await expect(
      gather([
        () => {
          throw boom;
        },
        later,
      ]),
    ).rejects.toBe(boom);
    expect(later).not.toHaveBeenCalled();
  });

  it('rejects with a non-Error rejection reason unchanged', async () => {
    await expect(gather([() => Promise.reject('plain string')])).rejects.toBe('plain string');
  });
});

describe('gather: settle mode', () => {
  it('resolves with a settled entry per task and never rejects for a failure', async () => {
    const boom = new Error('boom');
    const result = await gather(
      [
        async () => 1,
        async () => {
          throw boom;
        },
      ],
      { settle: true },
    );
    expect(result).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: boom },
    ]);
    expectTypeOf(result).toEqualTypeOf<[PromiseSettledResult<number>, PromiseSettledResult<never>]>();
  });

  it('does not abort the others when one fails', async () => {
    let aborted = false;
    await gather(
      [
        async () => {
          throw new Error('x');
        },
        async (signal) => {
          await sleep(5);
          aborted = signal.aborted;
        },
      ],
      { settle: true },
    );
    expect(aborted).toBe(false);
  });

  it('keeps records as records', async () => {
    const result = await gather({ a: async () => 1, b: () => Promise.reject(new Error('b')) }, { settle: true });
    expect(result.a).toEqual({ status: 'fulfilled', value: 1 });
    expect(result.b.status).toBe('rejected');
  });
});

describe('gather: timeout', () => {
  it('aborts unfinished tasks with a TimeoutError and rejects with it, under fake timers', async () => {
    vi.useFakeTimers();
    let reason: unknown;
    const gathering = gather(
      [
        async () => 'quick',
        async (signal) => {
          try {
            return await untilAborted(signal);
          } finally {
            reason = signal.reason;
          }
        },
      ],
      { timeout: 1_000 },
    );
    const outcome = gathering.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(reason).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('returns partial results in settle mode: values that finished, TimeoutError for the rest', async () => {
    vi.useFakeTimers();
    const gathering = gather(
      [
        async () => 'done',
        async (signal) => {
          await sleep(500, { signal });
          return 'also done';
        },
        (signal) => untilAborted(signal),
      ],
      { timeout: 1_000, settle: true },
    );
    await vi.advanceTimersByTimeAsync(1_000);
    const [a, b, c] = await gathering;
    expect(a).toEqual({ status: 'fulfilled', value: 'done' });
    expect(b).toEqual({ status: 'fulfilled', value: 'also done' });
    expect(c.status).toBe('rejected');
    expect((c as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
  });

  it('clears its timer when the tasks finish first', async () => {
    vi.useFakeTimers();
    await gather([async () => 1], { timeout: 60_000 });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('gather: caller cancellation', () => {
  it('aborts every task and rejects with the signal reason', async () => {
    const controller = new AbortController();
    const reasons: unknown[] = [];
    const gathering = gather(
      [
        (signal) => untilAborted(signal).catch((e: unknown) => reasons.push(e)),
        (signal) => untilAborted(signal).catch((e: unknown) => reasons.push(e)),
      ],
      { signal: controller.signal },
    );
    const reason = new Error('user left');
    controller.abort(reason);
    await expect(gathering).rejects.toBe(reason);
    expect(reasons).toEqual([reason, reason]);
  });

  it('rejects with the reason in settle mode too', async () => {
    const controller = new AbortController();
    const gathering = gather([(signal) => untilAborted(signal)], { signal: controller.signal, settle: true });
    controller.abort('stop');
    await expect(gathering).rejects.toBe('stop');
  });

  it('starts no further task once a task aborts the caller while they are being started, and waits for those started', async () => {
    const controller = new AbortController();
    const order: string[] = [];
    const later = vi.fn(async () => 3);
    const gathering = gather(
      [
        async (signal) => {
          await untilAborted(signal).catch(() => undefined);
          await sleep(5);
          order.push('first cleaned up');
        },
        () => {
          controller.abort('stopped by a task');
          return 2;
        },
        later,
      ],
      { signal: controller.signal },
    );
    await expect(gathering).rejects.toBe('stopped by a task');
    order.push('gather settled');
    expect(order).toEqual(['first cleaned up', 'gather settled']);
    expect(later).not.toHaveBeenCalled();
  });

  it('waits for every task after a deadline even when one of them then fails', async () => {
    const cleanedUp: number[] = [];
    const slowCleanup = async (signal: AbortSignal, id: number): Promise<never> => {
      await untilAborted(signal).catch(() => undefined);
      await sleep(id * 3);
      cleanedUp.push(id);
      throw new Error(`task ${id} failed while stopping`);
    };
    const gathering = gather([(signal) => slowCleanup(signal, 1), (signal) => slowCleanup(signal, 2)], { timeout: 5 });
    await expect(gathering).rejects.toBeInstanceOf(TimeoutError);
    expect(cleanedUp).toEqual([1, 2]);
  });

  it('calls no task when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort('before');
    const task = vi.fn(async () => 1);
    await expect(gather([task], { signal: controller.signal })).rejects.toBe('before');
    expect(task).not.toHaveBeenCalled();
  });

  it('does not accumulate listeners on a signal reused across many calls', async () => {
    const shutdown = new AbortController();
    for (let i = 0; i < 200; i++) {
      await gather([async () => i], { signal: shutdown.signal });
      await gather([async () => { throw new Error('x'); }], { signal: shutdown.signal }).catch(() => undefined);
    }
    expect(abortListenerCount(shutdown.signal)).toBe(0);
  });
});

describe('gather: tasks that ignore their signal', () => {
  it('settles after the grace period, reports the straggler and absorbs its late rejection', async () => {
    vi.useFakeTimers();
    const boom = new Error('boom');
    const stuck = deferred<never>();
    const reports: unknown[] = [];
    const gathering = gather(
      [
        async () => {
          throw boom;
        },
        () => stuck.promise,
      ],
      { graceMs: 100, onStraggler: (report) => reports.push(report) },
    );
    const outcome = gathering.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(99);
    expect(reports).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe(boom);
    expect(reports).toEqual([{ operation: 'gather', pending: 1, graceMs: 100, reason: expect.any(CancelledError) }]);
    // The straggler rejects long after: this must not become an unhandled rejection.
    stuck.reject(new Error('too late'));
    await vi.advanceTimersByTimeAsync(0);
  });

  it('emits a process warning when no straggler handler is given', async () => {
    vi.useFakeTimers();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const stuck = deferred<never>();
      const outcome = gather([() => Promise.reject(new Error('x')), () => stuck.promise], { graceMs: 10 }).catch(() => 'rejected');
      await vi.advanceTimersByTimeAsync(10);
      expect(await outcome).toBe('rejected');
      vi.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['SKEIN_STRAGGLER']);
      stuck.resolve(undefined as never);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('waits however long it takes with graceMs: Infinity', async () => {
    const cleanup = deferred();
    let settled = false;
    const gathering = gather(
      [() => Promise.reject(new Error('x')), () => cleanup.promise],
      { graceMs: Infinity },
    ).catch(() => (settled = true));
    await sleep(20);
    expect(settled).toBe(false);
    cleanup.resolve();
    await gathering;
    expect(settled).toBe(true);
  });
});

describe('gather: invalid arguments', () => {
  it('throws a TypeError or RangeError that says what was expected', () => {
    expect(() => gather(5 as any)).toThrow(/tasks must be an array or a record of task functions, got 5/);
    expect(() => gather(null as any)).toThrow(TypeError);
    expect(() => gather([async () => 1, 'x' as any])).toThrow(/tasks\[1\] must be a function, got "x"/);
    expect(() => gather({ a: 1 } as any)).toThrow(/tasks\.a must be a function/);
    expect(() => gather([], { timeout: -1 })).toThrow(/timeout must be a number of milliseconds >= 0/);
    expect(() => gather([], { timeout: Number.NaN })).toThrow(RangeError);
    expect(() => gather([], { graceMs: -5 })).toThrow(/graceMs/);
    expect(() => gather([], { signal: 'no' as any })).toThrow(/signal must be an AbortSignal/);
    expect(() => gather([], { settle: 'yes' as any })).toThrow(/settle must be a boolean/);
    expect(() => gather([], { onStraggler: 3 as any })).toThrow(/onStraggler must be a function/);
  });
});
