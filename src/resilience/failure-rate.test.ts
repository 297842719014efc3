import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';
import { failureRate } from './failure-rate.js';

describe('failureRate', () => {
  it('says open when the failed share reaches the threshold with at least minCalls calls', () => {
    vi.useFakeTimers({ now: 0 });
    const tracker = failureRate({ threshold: 0.5, minCalls: 4, windowMs: 1_000 }).create();
    tracker.success();
    expect(tracker.failure()).toBe(false); // 1 of 2, below minCalls
    tracker.success();
    expect(tracker.failure()).toBe(true); // 2 of 4
    expect([tracker.calls, tracker.failures]).toEqual([4, 2]);
  });

  it('stays closed below the threshold however many calls', () => {
    vi.useFakeTimers({ now: 0 });
    const tracker = failureRate({ threshold: 0.5, minCalls: 1, windowMs: 1_000 }).create();
    for (let i = 0; i < 100; i++) tracker.success();
    for (let i = 0; i < 99; i++) expect(tracker.failure()).toBe(false);
    expect(tracker.failure()).toBe(true);
  });

  it('compares shares exactly: 3 failures in 30 calls meet a threshold of 0.1', () => {
    vi.useFakeTimers({ now: 0 });
    const tracker = failureRate({ threshold: 0.1, minCalls: 30, windowMs: 1_000 }).create();
    for (let i = 0; i < 27; i++) tracker.success();
    tracker.failure();
    tracker.failure();
    expect(tracker.failure()).toBe(true);
  });

  it('forgets calls older than the window, one bucket at a time', () => {
    vi.useFakeTimers({ now: 0 });
    const tracker = failureRate({ threshold: 1, minCalls: 1_000, windowMs: 1_000, buckets: 10 }).create();
    tracker.failure(); // bucket [0, 100)
    vi.setSystemTime(450);
    tracker.failure(); // bucket [400, 500)
    vi.setSystemTime(999);
    expect(tracker.calls).toBe(2);
    vi.setSystemTime(1_000); // the bucket of t=0 leaves the window
    expect([tracker.calls, tracker.failures]).toEqual([1, 1]);
    vi.setSystemTime(1_399);
    expect(tracker.calls).toBe(1);
    vi.setSystemTime(1_400); // its bucket [400, 500) leaves: 950 ms after the call, within one bucket of windowMs
    expect(tracker.calls).toBe(0);
  });

  it('expires everything after a gap longer than the window, in bounded steps', () => {
    vi.useFakeTimers({ now: 0 });
    const tracker = failureRate({ threshold: 0.5, minCalls: 2, windowMs: 100 }).create();
    tracker.failure();
    vi.setSystemTime(10 ** 12);
    expect(tracker.failure()).toBe(false); // the old failure is gone: 1 call, below minCalls
    expect(tracker.calls).toBe(1);
  });

  it('keeps counting into the newest bucket when the clock goes back', () => {
    vi.useFakeTimers({ now: 5_000 });
    const tracker = failureRate({ threshold: 1, minCalls: 2, windowMs: 1_000 }).create();
    tracker.failure();
    vi.setSystemTime(1_000);
    expect(tracker.failure()).toBe(true);
  });

  it('opens a breaker, and failures that left the window no longer count toward it', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: failureRate({ threshold: 0.5, minCalls: 2, windowMs: 1_000 }), openMs: 100 });
    await breaker.execute(() => Promise.reject(new Error('old'))).catch(() => {});
    await vi.advanceTimersByTimeAsync(1_000);
    await breaker.execute(() => 'ok');
    expect(breaker.state).toBe('closed'); // the old failure expired: 0 of 1
    await breaker.execute(() => Promise.reject(new Error('new'))).catch(() => {});
    expect(breaker.state).toBe('open'); // 1 of 2
  });

  it('validates its options', () => {
    expect(() => failureRate(undefined as never)).toThrow(/needs options/);
    expect(() => failureRate({ threshold: 0 })).toThrow(/threshold must be a number in \(0, 1\], got 0/);
    expect(() => failureRate({ threshold: 1.5 })).toThrow(/threshold/);
    expect(() => failureRate({ threshold: NaN })).toThrow(/threshold/);
    expect(() => failureRate({ threshold: 0.5, minCalls: 0 })).toThrow(/minCalls must be an integer >= 1/);
    expect(() => failureRate({ threshold: 0.5, windowMs: 0 })).toThrow(/windowMs must be > 0/);
    expect(() => failureRate({ threshold: 0.5, buckets: 0 })).toThrow(/buckets must be an integer from 1 to 1000/);
  });
});
