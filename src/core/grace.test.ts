import { afterEach, describe, expect, it, vi } from 'vitest';
import { CancelledError, suppressedErrors } from './errors.js';
import { FailFast, type StragglerReport } from './grace.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('FailFast', () => {
  it('stops once: records the first failure and aborts the children with the abort reason', () => {
    const failFast = new FailFast('test', undefined);
    const controller = new AbortController();
    const first = new Error('first');
    const reason = new CancelledError('stopped', { cause: first });
    expect(failFast.stop(first, reason, controller)).toBe(true);
    expect(failFast.stop(new Error('second'), 'other', controller)).toBe(false);
    expect(failFast.failure).toEqual({ error: first });
    expect(failFast.abortReason).toBe(reason);
    expect(controller.signal.reason).toBe(reason);
    expect(failFast.stopped).toBe(true);
  });

  it('keeps genuine later failures as suppressed errors, not the abort reason, the failure or cancellations', () => {
    const failFast = new FailFast('test', undefined);
    const first = new Error('first');
    const reason = new CancelledError('stopped');
    failFast.stop(first, reason);
    const genuine = new Error('genuine');
    failFast.absorb(first);
    failFast.absorb(reason);
    failFast.absorb(new CancelledError('a child gave up'));
    failFast.absorb(new DOMException('aborted', 'AbortError'));
    failFast.absorb(genuine);
    expect(failFast.settle()).toBe(true);
    expect(failFast.settle()).toBe(false);
    expect(suppressedErrors(first)).toEqual([genuine]);
  });

  it('reports the stragglers and expires when the grace period passes first', () => {
    vi.useFakeTimers();
    const reports: StragglerReport[] = [];
    const failFast = new FailFast('test', { graceMs: 50, onStraggler: (report) => reports.push(report) });
    const expired = vi.fn();
    failFast.stop(new Error('first'), 'reason');
    failFast.wait(() => 3, expired);
    vi.advanceTimersByTime(49);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(reports).toEqual([{ operation: 'test', pending: 3, graceMs: 50, reason: 'reason' }]);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('cancels the grace period when settled first, and starts none once settled', () => {
    vi.useFakeTimers();
    const onStraggler = vi.fn();
    const expired = vi.fn();
    const failFast = new FailFast('test', { graceMs: 50, onStraggler });
    failFast.stop(new Error('first'), 'reason');
    failFast.wait(() => 1, expired);
    failFast.settle();
    failFast.wait(() => 1, expired);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(onStraggler).not.toHaveBeenCalled();
    expect(expired).not.toHaveBeenCalled();
  });

  it('waits however long it takes with graceMs: Infinity', () => {
    vi.useFakeTimers();
    const failFast = new FailFast('test', { graceMs: Number.POSITIVE_INFINITY });
    failFast.stop(new Error('first'), 'reason');
    failFast.wait(() => 1, () => {});
    expect(vi.getTimerCount()).toBe(0);
  });
});
