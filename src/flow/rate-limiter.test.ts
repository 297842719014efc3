import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount, flushMicrotasks } from '../../test/helpers.js';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows a burst at once, then one token per limit/interval', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 10, intervalMs: 1_000, burst: 3 });
    const times: number[] = [];
    const start = Date.now();
    const jobs = Array.from({ length: 5 }, () => limiter.acquire().then(() => times.push(Date.now() - start)));
    await flushMicrotasks();
    expect(times).toEqual([0, 0, 0]);
    await vi.advanceTimersByTimeAsync(100);
    expect(times).toEqual([0, 0, 0, 100]);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(jobs);
    expect(times).toEqual([0, 0, 0, 100, 200]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refills continuously up to the burst after a quiet spell when it is a token bucket', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 2, intervalMs: 100, burst: 2 });
    expect(limiter.available).toBe(2);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    vi.advanceTimersByTime(50);
    expect(limiter.available).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(limiter.available).toBe(2);
  });

  it('serves waiters first-in first-out, weighted ones included', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 10, burst: 3 });
    await limiter.acquire({ weight: 3 });
    const order: string[] = [];
    const heavy = limiter.acquire({ weight: 3 }).then(() => order.push('heavy'));
    const light = limiter.acquire().then(() => order.push('light'));
    await vi.advanceTimersByTimeAsync(10);
    expect(order).toEqual([]); // a token is there, but the light waiter must not overtake
    await vi.advanceTimersByTimeAsync(20);
    expect(order).toEqual(['heavy']);
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all([heavy, light]);
    expect(order).toEqual(['heavy', 'light']);
  });

  it('an abort while waiting rejects with the reason, leaves the queue and clears the timer', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 1_000 });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire({ signal: controller.signal });
    expect(limiter.waiting).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limiter.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('an already aborted signal rejects at once without taking a token', async () => {
    const limiter = new RateLimiter({ limit: 1, intervalMs: 1_000 });
    const controller = new AbortController();
    controller.abort(new Error('already'));
    await expect(limiter.acquire({ signal: controller.signal })).rejects.toThrow('already');
    expect(limiter.available).toBe(1);
  });

  it('the waiters behind an aborted front waiter are served when their tokens arrive', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 100, burst: 2 });
    await limiter.acquire({ weight: 2 });
    const controller = new AbortController();
    const heavy = limiter.acquire({ weight: 2, signal: controller.signal });
    let lightDone = false;
    const light = limiter.acquire().then(() => (lightDone = true));
    controller.abort();
    await expect(heavy).rejects.toMatchObject({ name: 'AbortError' });
    await vi.advanceTimersByTimeAsync(100);
    await light;
    expect(lightDone).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('run waits for a token, then runs the task with the signal', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 50 });
    const results = Promise.all([1, 2, 3].map((n) => limiter.run((signal) => (signal instanceof AbortSignal ? n : 0))));
    await vi.advanceTimersByTimeAsync(100);
    expect(await results).toEqual([1, 2, 3]);
  });

  it('run rejects with the reason when aborted while waiting, without running the task', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 1_000 });
    await limiter.acquire();
    const controller = new AbortController();
    const task = vi.fn();
    const running = limiter.run(task, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(running).rejects.toThrow('stop');
    expect(task).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('run passes an abort to the running task and rejects with the reason once it settles', async () => {
    const limiter = new RateLimiter({ limit: 10, intervalMs: 1_000 });
    const controller = new AbortController();
    let sawAbort = false;
    const running = limiter.run(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve(); // a task that finishes cleanly after the abort still reports the abort
          }, { once: true });
        }),
      { signal: controller.signal },
    );
    await flushMicrotasks();
    controller.abort(new Error('stop'));
    await expect(running).rejects.toThrow('stop');
    expect(sawAbort).toBe(true);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('tolerates a clock that goes backwards', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ limit: 1, intervalMs: 100 });
    expect(limiter.tryAcquire()).toBe(true);
    vi.setSystemTime(Date.now() - 60_000);
    expect(limiter.available).toBe(0);
    vi.advanceTimersByTime(100);
    expect(limiter.available).toBe(1);
  });

  it('rejects invalid arguments with messages that say what is allowed', () => {
    expect(() => new RateLimiter(undefined as any)).toThrow(TypeError);
    expect(() => new RateLimiter({ limit: 0, intervalMs: 1_000 })).toThrow('limit must be an integer >= 1, got 0');
    expect(() => new RateLimiter({ limit: 1, intervalMs: 0 })).toThrow('intervalMs must be > 0, got 0');
    expect(() => new RateLimiter({ limit: 1, intervalMs: -5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ limit: 1, intervalMs: 10, burst: 0 })).toThrow(RangeError);
    const limiter = new RateLimiter({ limit: 2, intervalMs: 10 });
    expect(() => limiter.acquire({ weight: 3 })).toThrow("weight 3 exceeds the limiter's capacity of 2");
    expect(() => new RateLimiter({ limit: 1, intervalMs: 10, autoStart: true } as any)).toThrow(
      'RateLimiter has no option "autoStart"; its options are limit, intervalMs, burst',
    );
    expect(() => limiter.run(null as any)).toThrow('task must be a function, got null');
  });
});

describe('RateLimiter as a sliding window (the default)', () => {
  it('lets at most limit through in any window, even right after creation', async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ limit: 2, intervalMs: 1_000 });
    const grants: number[] = [];
    const all = Array.from({ length: 6 }, () => limiter.acquire().then(() => grants.push(Date.now())));
    await vi.advanceTimersByTimeAsync(3_000);
    await Promise.all(all);
    expect(grants).toEqual([0, 0, 1_000, 1_000, 2_000, 2_000]);
    for (const start of grants) expect(grants.filter((t) => t >= start && t < start + 1_000).length).toBeLessThanOrEqual(2);
  });

  it('frees each token exactly one interval after it was spent', async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ limit: 2, intervalMs: 100 });
    expect(limiter.tryAcquire()).toBe(true);
    vi.advanceTimersByTime(50);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.available).toBe(0);
    vi.advanceTimersByTime(50);
    expect(limiter.available).toBe(1);
    vi.advanceTimersByTime(50);
    expect(limiter.available).toBe(2);
  });

  it('waits on a long interval with one capped timer instead of spinning', async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ limit: 1, intervalMs: 2_000_000_000, burst: 10 });
    await limiter.acquire({ weight: 10 });
    const spy = vi.spyOn(globalThis, 'setTimeout');
    let served = false;
    void limiter.acquire({ weight: 10 }).then(() => (served = true));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(1);
    expect(served).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000_000_000);
    expect(served).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('RateLimiter.run without a signal', () => {
  it('gives every limiter the one shared never-aborted signal', async () => {
    const options = { limit: 5, intervalMs: 100 };
    const first = await new RateLimiter(options).run((signal) => signal);
    const second = await new RateLimiter(options).run((signal) => signal);
    expect(first).toBe(second);
  });
});
