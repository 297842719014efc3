import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, untilAborted } from '../../test/helpers.js';
import { CancelledError, TimeoutError } from './errors.js';
import { any, race } from './race.js';
import { sleep } from './sleep.js';

describe('race', () => {
  it('settles with the first value and infers the union of the task types', async () => {
    const winner = await race([async () => 1, (signal: AbortSignal) => untilAborted(signal).then(() => 'never')]);
    expect(winner).toBe(1);
    expectTypeOf(winner).toEqualTypeOf<number | string>();
  });

  it('aborts the losers with a CancelledError and waits for them before settling', async () => {
    const events: string[] = [];
    const winner = await race([
      async (signal) => {
        await sleep(1, { signal });
        return 'fast';
      },
      async (signal) => {
        try {
          await untilAborted(signal);
        } catch (reason) {
          events.push(reason instanceof CancelledError ? 'loser cancelled' : 'other');
          await sleep(5);
          events.push('loser cleaned up');
          throw reason;
        }
      },
    ]);
    events.push(`race settled with ${String(winner)}`);
    expect(events).toEqual(['loser cancelled', 'loser cleaned up', 'race settled with fast']);
  });

  it('rejects when the first task to settle rejects', async () => {
    const boom = new Error('boom');
    await expect(race([() => Promise.reject(boom), (signal) => untilAborted(signal)])).rejects.toBe(boom);
  });

  it('does not start later tasks when an earlier one settles synchronously', async () => {
    const later = vi.fn();
    await expect(race([() => 'sync', later])).resolves.toBe('sync');
    expect(later).not.toHaveBeenCalled();
  });

  it('rejects with a TimeoutError when nothing settles in time', async () => {
    vi.useFakeTimers();
    const outcome = race([(signal) => untilAborted(signal)], { timeout: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });

  it('rejects with the caller reason and removes its listener', async () => {
    const controller = new AbortController();
    const outcome = race([(signal) => untilAborted(signal)], { signal: controller.signal });
    controller.abort('bye');
    await expect(outcome).rejects.toBe('bye');
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('settles after the grace period when a loser ignores its signal', async () => {
    vi.useFakeTimers();
    const stuck = deferred<string>();
    const reports: unknown[] = [];
    const outcome = race([async () => 'won', () => stuck.promise], { graceMs: 20, onStraggler: (r) => reports.push(r) });
    await vi.advanceTimersByTimeAsync(20);
    await expect(outcome).resolves.toBe('won');
    expect(reports).toHaveLength(1);
    stuck.reject(new Error('late'));
  });

  it('rejects invalid input', () => {
    expect(() => race([])).toThrow(/race needs at least one task/);
    expect(() => race('x' as any)).toThrow(/race needs an array of task functions/);
    expect(() => race([1 as any])).toThrow(/tasks\[0\] must be a function/);
  });
});

describe('any', () => {
  it('fulfils with the first fulfilment, ignoring earlier failures', async () => {
    await expect(
      any([
        () => Promise.reject(new Error('down')),
        async (signal) => {
          await sleep(2, { signal });
          return 'up';
        },
      ]),
    ).resolves.toBe('up');
  });

  it('aborts the others once one fulfils', async () => {
    let aborted = false;
    await any([
      async () => 'first',
      async (signal) => {
        await untilAborted(signal).catch(() => (aborted = true));
      },
    ]);
    expect(aborted).toBe(true);
  });

  it('rejects with an AggregateError of every failure, in task order, when all fail', async () => {
    const a = new Error('a');
    const b = new Error('b');
    const error = await any([
      async () => {
        await sleep(5);
        throw a;
      },
      () => Promise.reject(b),
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([a, b]);
  });

  it('rejects invalid input', () => {
    expect(() => any([])).toThrow(/any needs at least one task/);
  });
});
