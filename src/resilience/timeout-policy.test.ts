import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount, deferred } from '../../test/helpers.js';
import { TimeoutError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { timeoutPolicy } from './timeout-policy.js';

describe('timeoutPolicy', () => {
  it('settles with the outcome of a task that beats the deadline, and clears its timer', async () => {
    vi.useFakeTimers();
    const policy = timeoutPolicy(1_000);
    await expect(policy.execute(async () => 'fast')).resolves.toBe('fast');
    const boom = new Error('boom');
    await expect(policy.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborts the task signal with a TimeoutError at the deadline and rejects with it', async () => {
    vi.useFakeTimers();
    let reason: unknown;
    const outcome = timeoutPolicy(500)
      .execute(async (signal) => {
        await sleep(60_000, { signal }).catch(() => {});
        reason = signal.reason;
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(reason).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for the aborted task to settle before rejecting', async () => {
    vi.useFakeTimers();
    const cleanup = deferred();
    let settled = false;
    const outcome = timeoutPolicy(100)
      .execute(async (signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        await cleanup.promise;
      })
      .catch((e: unknown) => e)
      .finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(settled).toBe(false);
    cleanup.resolve();
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });

  it('passes the caller abort to the task and removes its listener afterwards', async () => {
    const controller = new AbortController();
    const outcome = timeoutPolicy(60_000)
      .execute((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })), {
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    const reason = new Error('caller left');
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('hands the context it is given to the task', async () => {
    await expect(timeoutPolicy(100).execute((_signal, context) => context.attempt, { context: { attempt: 4 } })).resolves.toBe(4);
    await expect(timeoutPolicy(100).execute((_signal, context) => context.attempt)).resolves.toBe(1);
  });

  it('validates its arguments', () => {
    expect(() => timeoutPolicy(-1)).toThrow(/ms must be a number of milliseconds >= 0/);
    expect(() => timeoutPolicy(10, { graceMs: -1 })).toThrow(/graceMs/);
    expect(() => timeoutPolicy(10).execute(undefined as never)).toThrow(/task must be a function/);
  });
});
