import { describe, expect, it } from 'vitest';
import { assertBackoff, constant, firstDelays, nextDelay } from './backoff.js';
import { exponential } from './exponential.js';

/** A random source that plays back `values` in order, so every jittered delay is known exactly. */
const scripted = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('constant', () => {
  it('yields the same delay forever by default', () => {
    expect(firstDelays(constant(250), 4)).toEqual([250, 250, 250, 250]);
  });

  it('yields the delay count times when a count is given', () => {
    expect([...constant(10, { count: 3 })]).toEqual([10, 10, 10]);
    expect([...constant(10, { count: 0 })]).toEqual([]);
  });

  it('rejects a negative delay and a fractional count', () => {
    expect(() => constant(-1)).toThrow(/ms must be a number of milliseconds >= 0, got -1/);
    expect(() => constant(1, { count: 1.5 })).toThrow(/count must be an integer >= 0/);
  });
});

describe('exponential', () => {
  it('without jitter multiplies by factor up to maxMs', () => {
    const backoff = exponential({ initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'none' });
    expect(firstDelays(backoff, 7)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('honours a factor other than 2', () => {
    expect(firstDelays(exponential({ initialMs: 10, factor: 3, jitter: 'none' }), 4)).toEqual([10, 30, 90, 270]);
  });

  it('with full jitter draws uniformly below the exponential ceiling', () => {
    const backoff = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'full', random: scripted(0.5, 0.25, 0.9, 0, 0.5) });
    // ceilings 100, 200, 400, 800, 1000
    expect(firstDelays(backoff, 5)).toEqual([50, 50, 360, 0, 500]);
  });

  it('with equal jitter keeps half the ceiling and draws the other half', () => {
    const backoff = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'equal', random: scripted(0, 0.5, 1 - 2 ** -53, 0.25) });
    // ceil/2 + r * ceil/2 with ceilings 100, 200, 400, 800
    expect(firstDelays(backoff, 4)).toEqual([50, 150, 400, 500]);
  });

  it('with decorrelated jitter draws between initialMs and three times the previous delay', () => {
    const backoff = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'decorrelated', random: scripted(0.5, 0.5, 1, 0) });
    // 100 + 0.5 * (300 - 100) = 200; 100 + 0.5 * (600 - 100) = 350; 100 + 1 * (1050 - 100) = 1050 -> cap 1000; 100
    expect(firstDelays(backoff, 4)).toEqual([200, 350, 1_000, 100]);
  });

  it('defaults to full jitter with initialMs 100 and factor 2', () => {
    expect(firstDelays(exponential({ random: () => 0.5 }), 3)).toEqual([50, 100, 200]);
  });

  it('starts over on every iteration', () => {
    const backoff = exponential({ initialMs: 1, jitter: 'none' });
    expect(firstDelays(backoff, 3)).toEqual([1, 2, 4]);
    expect(firstDelays(backoff, 3)).toEqual([1, 2, 4]);
  });

  it('never exceeds maxMs however long it runs', () => {
    const delays = firstDelays(exponential({ initialMs: 1, maxMs: 50, jitter: 'none' }), 2_000);
    expect(Math.max(...delays)).toBe(50);
  });

  it('rejects invalid options with a message that says what is allowed', () => {
    expect(() => exponential({ jitter: 'half' as never })).toThrow(/jitter must be one of 'none', 'full', 'equal', 'decorrelated', got "half"/);
    expect(() => exponential({ factor: 0.5 })).toThrow(/factor must be a finite number >= 1, got 0.5/);
    expect(() => exponential({ factor: Infinity })).toThrow(/factor/);
    expect(() => exponential({ initialMs: 100, maxMs: 10 })).toThrow(/maxMs must be >= initialMs \(100\), got 10/);
    expect(() => exponential({ initialMs: -5 })).toThrow(/initialMs/);
    expect(() => exponential({ random: 0.5 as never })).toThrow(/random must be a function/);
    expect(() => exponential(null as never)).toThrow(/options must be an object/);
  });
});

describe('backoff checks', () => {
  it('accept arrays and strategies and refuse non-iterables', () => {
    expect(() => assertBackoff([1, 2], 'backoff')).not.toThrow();
    expect(() => assertBackoff(5, 'backoff')).toThrow(/backoff must be an iterable of delays/);
    expect(() => assertBackoff('100', 'backoff')).toThrow(/backoff must be an iterable/);
  });

  it('refuse a one-shot iterator where the backoff is reused', () => {
    function* delays() {
      yield 1;
    }
    expect(() => assertBackoff(delays(), 'backoff')).not.toThrow();
    expect(() => assertBackoff(delays(), 'backoff', { reusable: true })).toThrow(/re-iterable/);
  });

  it('refuse a delay a timer cannot wait', () => {
    for (const bad of [-1, NaN, Infinity, '5']) {
      expect(() => nextDelay([bad as number][Symbol.iterator](), 'backoff')).toThrow(/backoff yielded/);
    }
    expect(nextDelay([][Symbol.iterator](), 'backoff')).toBeUndefined();
  });

  it('firstDelays stops at the end of a finite backoff', () => {
    expect(firstDelays([5, 6], 10)).toEqual([5, 6]);
    expect(firstDelays(constant(1), 0)).toEqual([]);
  });
});
