import { describe, expect, it } from 'vitest';
import { consecutive } from './consecutive.js';

describe('consecutive', () => {
  it('says open on the n-th failure in a row', () => {
    const tracker = consecutive(3).create();
    expect([tracker.failure(), tracker.failure(), tracker.failure()]).toEqual([false, false, true]);
  });

  it('starts counting again after a success or a reset', () => {
    const tracker = consecutive(2).create();
    tracker.failure();
    tracker.success();
    expect(tracker.failure()).toBe(false);
    tracker.reset();
    expect(tracker.failures).toBe(0);
    expect(tracker.failure()).toBe(false);
    expect(tracker.failure()).toBe(true);
  });

  it('gives every breaker a tracker of its own', () => {
    const policy = consecutive(2);
    const a = policy.create();
    const b = policy.create();
    a.failure();
    expect(b.failure()).toBe(false);
    expect(a.failure()).toBe(true);
  });

  it('refuses a count that is not an integer >= 1', () => {
    expect(() => consecutive(0)).toThrow(/failures must be an integer >= 1, got 0/);
    expect(() => consecutive(2.5)).toThrow(/failures must be an integer >= 1/);
  });
});
