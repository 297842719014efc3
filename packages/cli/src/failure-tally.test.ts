import { describe, expect, it } from 'vitest';
import { describeFailure, FailureTally, MAX_DISTINCT_ERRORS } from './failure-tally.js';

describe('FailureTally', () => {
  it('counts every failure and groups the same message, in order of first occurrence', () => {
    const tally = new FailureTally();
    for (const message of ['b', 'a', 'b', 'b']) tally.record({ name: 'Error', message });
    expect(tally.count).toBe(4);
    expect(tally.errors()).toEqual([
      { message: 'b', count: 3 },
      { message: 'a', count: 1 },
    ]);
  });

  it('keeps only the first few distinct messages and counts the rest as others', () => {
    const tally = new FailureTally();
    for (let i = 0; i < MAX_DISTINCT_ERRORS + 5; i++) tally.record({ name: 'Error', message: `error ${i}` });
    tally.record({ name: 'Error', message: 'error 0' });
    expect(tally.errors()).toHaveLength(MAX_DISTINCT_ERRORS);
    expect(tally.errors()[0]).toEqual({ message: 'error 0', count: 2 });
    expect(tally.others).toBe(5);
    expect(tally.count).toBe(MAX_DISTINCT_ERRORS + 6);
  });
});

describe('describeFailure', () => {
  it('names the error class unless it is a plain Error, and keeps only the first line, cut to length', () => {
    expect(describeFailure({ name: 'Error', message: 'disk on fire' })).toBe('disk on fire');
    expect(describeFailure({ name: 'TypeError', message: 'x is not a function\n    at y' })).toBe('TypeError: x is not a function');
    const long = describeFailure({ name: 'Error', message: 'x'.repeat(500) });
    expect(long).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
  });
});
