import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount, deferred, untilAborted } from '../../test/helpers.js';
import { TimeoutError } from './errors.js';
import { scope } from './scope.js';
import { deadlineOf } from './signal.js';
import { sleep } from './sleep.js';
import { timeout } from './timeout.js';

describe('timeout', () => {
  it('resolves with the value of a task that beats the deadline and clears its timer', async () => {
    vi.useFakeTimers();
    await expect(timeout(async () => 'fast', 1_000)).resolves.toBe('fast');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the error of a task that fails before the deadline', async () => {
    const boom = new Error('boom');
    await expect(timeout(() => Promise.reject(boom), 1_000)).rejects.toBe(boom);
  });

  it('fires under fake timers without real waiting: aborts the task with a TimeoutError and rejects with it', async () => {
    vi.useFakeTimers();
    let reason: unknown;
    const outcome = timeout(async (signal) => {
      try {
        await sleep(60_000, { signal });
      } finally {
        reason = signal.reason;
      }
    }, 5_000).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('the task timed out after 5000 ms');
    expect(reason).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for the aborted task to finish its cleanup before rejecting', async () => {
    vi.useFakeTimers();
    const cleanup = deferred();
    const events: string[] = [];
    const outcome = timeout(async (signal) => {
      await untilAborted(signal).catch(() => undefined);
      await cleanup.promise;
      events.push('cleaned up');
    }, 100).catch(() => events.push('rejected'));
    await vi.advanceTimersByTimeAsync(100);
    expect(events).toEqual([]);
    cleanup.resolve();
    await outcome;
    expect(events).toEqual(['cleaned up', 'rejected']);
  });

  it('reports the TimeoutError even if the task swallowed the abort and returned a value', async () => {
    vi.useFakeTimers();
    const outcome = timeout(async (signal) => {
      await untilAborted(signal).catch(() => undefined);
      return 'late value';
    }, 10).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });

  it('gives up on a task that ignores its signal after the grace period', async () => {
    vi.useFakeTimers();
    const reports: unknown[] = [];
    const outcome = timeout(() => new Promise(() => {}), 10, { graceMs: 50, onStraggler: (r) => reports.push(r) }).catch(
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(60);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(reports).toHaveLength(1);
  });

  it('rejects with the caller reason when the caller aborts, and removes its listener', async () => {
    const controller = new AbortController();
    const outcome = timeout((signal) => untilAborted(signal), 60_000, { signal: controller.signal });
    controller.abort('caller');
    await expect(outcome).rejects.toBe('caller');
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('does not call the task when the caller signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort('early');
    const task = vi.fn();
    await expect(timeout(task, 100, { signal: controller.signal })).rejects.toBe('early');
    expect(task).not.toHaveBeenCalled();
  });

  it('exposes the earliest deadline to nested work', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const seen: (number | undefined)[] = [];
    await timeout(async (outer) => {
      seen.push(deadlineOf(outer));
      await timeout(async (inner) => seen.push(deadlineOf(inner)), 60_000, { signal: outer });
      await timeout(async (inner) => seen.push(deadlineOf(inner)), 100, { signal: outer });
    }, 5_000);
    expect(seen).toEqual([1_005_000, 1_005_000, 1_000_100]);
  });

  it('inherits a scope deadline: the outer deadline wins when it is earlier', async () => {
    vi.useFakeTimers();
    const outcome = scope((group) => timeout((signal) => untilAborted(signal), 60_000, { signal: group.signal }), {
      timeout: 100,
    }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/scope timed out after 100 ms/);
  });

  it('validates its arguments', () => {
    expect(() => timeout('x' as any, 1)).toThrow(/task must be a function/);
    expect(() => timeout(async () => 1, -1)).toThrow(/ms must be a number of milliseconds >= 0, got -1/);
    expect(() => timeout(async () => 1, Number.NaN)).toThrow(RangeError);
    expect(() => timeout(async () => 1, 1, { signal: 1 as any })).toThrow(/signal/);
  });
});
