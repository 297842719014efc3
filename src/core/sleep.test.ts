import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount } from '../../test/helpers.js';
import { sleep } from './sleep.js';

describe('sleep', () => {
  it('resolves after the delay, driven by fake timers without real waiting', async () => {
    vi.useFakeTimers();
    let done = false;
    const sleeping = sleep(10_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('rejects with the signal reason when aborted during the wait, and clears its timer and listener', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const sleeping = sleep(10_000, { signal: controller.signal });
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('rejects at once without a timer when the signal is already aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort('early');
    await expect(sleep(100, { signal: controller.signal })).rejects.toBe('early');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('removes its abort listener when it completes normally', async () => {
    const controller = new AbortController();
    await sleep(1, { signal: controller.signal });
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('adds one listener to a signal shared by 1,000 sleeps (no MaxListenersExceededWarning), and none once they end', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const short = Array.from({ length: 500 }, () => sleep(1, { signal: controller.signal }));
      const long = Array.from({ length: 500 }, () => sleep(60_000, { signal: controller.signal }));
      expect(abortListenerCount(controller.signal)).toBe(1);
      await Promise.all(short);
      expect(abortListenerCount(controller.signal)).toBe(1);
      const reason = new Error('shutdown');
      controller.abort(reason);
      const outcomes = await Promise.allSettled(long);
      expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason === reason)).toBe(true);
      expect(abortListenerCount(controller.signal)).toBe(0);
      // A new sleep on another signal after all that starts from nothing.
      const other = new AbortController();
      const again = sleep(60_000, { signal: other.signal });
      expect(abortListenerCount(other.signal)).toBe(1);
      other.abort('done');
      await expect(again).rejects.toBe('done');
      expect(abortListenerCount(other.signal)).toBe(0);
      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('waits until the signal aborts when the delay is Infinity', async () => {
    const controller = new AbortController();
    const sleeping = sleep(Infinity, { signal: controller.signal });
    controller.abort('now');
    await expect(sleeping).rejects.toBe('now');
  });

  it('rejects invalid delays and options with a message naming the argument', () => {
    expect(() => sleep(-1)).toThrow(/ms must be a number of milliseconds >= 0, got -1/);
    expect(() => sleep(Number.NaN)).toThrow(RangeError);
    expect(() => sleep('5' as any)).toThrow(/got "5"/);
    expect(() => sleep(2 ** 31)).toThrow(/at most/);
    expect(() => sleep(Infinity)).toThrow(/needs a signal/);
    expect(() => sleep(1, { signal: {} as any })).toThrow(/signal must be an AbortSignal/);
    expect(() => sleep(1, 5 as any)).toThrow(/options must be an object/);
  });
});
