import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CancelledError } from '../core/errors.js';
import { scope } from '../core/scope.js';
import { sleep } from '../core/sleep.js';
import { every } from './every.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Lets promise callbacks run without moving the fake clock. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('every', () => {
  it('waits the interval before the first run, then after each run', async () => {
    const controller = new AbortController();
    const runs: number[] = [];
    const loop = every(100, () => void runs.push(Date.now()), { signal: controller.signal });
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(runs.map((at) => at - start)).toEqual([100, 200, 300]);
    controller.abort();
    await loop;
  });

  it('runs at once with immediate: true', async () => {
    const controller = new AbortController();
    const task = vi.fn();
    const loop = every(100, task, { signal: controller.signal, immediate: true });
    await flush();
    expect(task).toHaveBeenCalledTimes(1);
    controller.abort();
    await loop;
  });

  it('never overlaps a slow run: the next wait starts when the run has settled', async () => {
    const controller = new AbortController();
    let running = 0;
    let mostAtOnce = 0;
    const starts: number[] = [];
    const start = Date.now();
    const loop = every(
      10,
      async (signal) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        starts.push(Date.now() - start);
        await sleep(50, { signal }).finally(() => running--);
      },
      { signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(mostAtOnce).toBe(1);
    expect(starts).toEqual([10, 70, 130, 190]);
    controller.abort();
    await loop;
  });

  it('stops at once when aborted during the wait, leaving no timer behind', async () => {
    const controller = new AbortController();
    const task = vi.fn();
    const loop = every(60_000, task, { signal: controller.signal });
    await flush();
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await loop;
    expect(task).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes its signal to the run and resolves once an aborted run has settled', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    let settled = false;
    const onError = vi.fn();
    const loop = every(
      10,
      async (signal) => {
        seen = signal;
        await sleep(1_000, { signal }).finally(() => (settled = true));
      },
      { signal: controller.signal, immediate: true, onError },
    );
    await flush();
    expect(seen).toBe(controller.signal);
    controller.abort(new CancelledError('shutting down'));
    await loop;
    expect(settled).toBe(true);
    expect(onError).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives a run that ignores the abort the grace period, then resolves and reports it', async () => {
    const controller = new AbortController();
    const onStraggler = vi.fn();
    let finishRun!: () => void;
    let resolved = false;
    const loop = every(10, () => new Promise<void>((resolve) => (finishRun = resolve)), {
      signal: controller.signal,
      immediate: true,
      graceMs: 500,
      onStraggler,
    }).then(() => (resolved = true));
    await flush();
    controller.abort();
    await vi.advanceTimersByTimeAsync(499);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(resolved).toBe(true);
    expect(onStraggler).toHaveBeenCalledWith(expect.objectContaining({ operation: 'every', pending: 1, graceMs: 500 }));
    finishRun();
    await loop;
  });

  it('keeps going after a failed run and reports it to onError with the run number', async () => {
    const controller = new AbortController();
    const boom = new Error('flush failed');
    let calls = 0;
    const onError = vi.fn();
    const loop = every(
      10,
      () => {
        calls++;
        if (calls === 2) throw boom;
        if (calls === 3) return Promise.reject(boom);
      },
      { signal: controller.signal, onError },
    );
    await vi.advanceTimersByTimeAsync(40);
    expect(calls).toBe(4);
    expect(onError.mock.calls).toEqual([
      [boom, { run: 2 }],
      [boom, { run: 3 }],
    ]);
    controller.abort();
    await loop;
  });

  it('stops and rejects with what onError throws', async () => {
    const controller = new AbortController();
    const fatal = new Error('give up');
    const loop = every(10, () => Promise.reject(new Error('flush failed')), {
      signal: controller.signal,
      onError: () => {
        throw fatal;
      },
    });
    const outcome = expect(loop).rejects.toBe(fatal);
    await vi.advanceTimersByTimeAsync(10);
    await outcome;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a failure as a process warning when there is no onError', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const controller = new AbortController();
    const loop = every(10, () => Promise.reject(new Error('disk full')), { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(10);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('disk full'), expect.objectContaining({ code: 'SKEIN_EVERY_FAILED' }));
    controller.abort();
    await loop;
  });

  it('resolves without running when the signal is already aborted', async () => {
    const task = vi.fn();
    await every(10, task, { signal: AbortSignal.abort(), immediate: true });
    expect(task).not.toHaveBeenCalled();
  });

  it('stops with the scope it was spawned in', async () => {
    const flushes: number[] = [];
    const outcome = scope(async (group) => {
      group.spawn((signal) => every(100, () => void flushes.push(Date.now()), { signal }));
      await sleep(350);
      group.cancel();
    });
    await vi.advanceTimersByTimeAsync(350);
    await outcome;
    expect(flushes).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('throws on invalid arguments with a message that says what is allowed', () => {
    const signal = new AbortController().signal;
    expect(() => every(-1, () => {}, { signal })).toThrow(/intervalMs must be a number of milliseconds >= 0, got -1/);
    expect(() => every(10, 'task' as any, { signal })).toThrow(/task must be a function/);
    expect(() => every(10, () => {}, undefined as any)).toThrow(/needs options with a signal/);
    expect(() => every(10, () => {}, {} as any)).toThrow(/needs a signal/);
    expect(() => every(10, () => {}, { signal: 'stop' as any })).toThrow(/signal must be an AbortSignal/);
    expect(() => every(10, () => {}, { signal, immediate: 1 as any })).toThrow(/immediate must be a boolean, got 1/);
    expect(() => every(10, () => {}, { signal, onError: 'log' as any })).toThrow(/onError must be a function/);
    expect(() => every(10, () => {}, { signal, graceMs: -5 })).toThrow(/graceMs/);
  });
});
