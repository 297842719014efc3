import { describe, expect, it } from 'vitest';
import { CancelledError, isCancellation, ScopeClosedError, suppressedErrors, TimeoutError } from './errors.js';

describe('errors', () => {
  it('CancelledError is an Error named AbortError with a cause', () => {
    const cause = new Error('why');
    const error = new CancelledError('stopped', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AbortError');
    expect(error.message).toBe('stopped');
    expect(error.cause).toBe(cause);
  });

  it('TimeoutError is an Error named TimeoutError', () => {
    const error = new TimeoutError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toMatch(/timed out/);
  });

  it('ScopeClosedError is an Error named ScopeClosedError', () => {
    expect(new ScopeClosedError().name).toBe('ScopeClosedError');
  });

  it('isCancellation recognises CancelledError and DOM AbortErrors but not timeouts or failures', () => {
    const controller = new AbortController();
    controller.abort();
    expect(isCancellation(new CancelledError())).toBe(true);
    expect(isCancellation(controller.signal.reason)).toBe(true);
    expect(isCancellation(new TimeoutError())).toBe(false);
    expect(isCancellation(AbortSignal.timeout(0).reason)).toBe(false);
    expect(isCancellation(new Error('boom'))).toBe(false);
    expect(isCancellation('AbortError')).toBe(false);
    expect(isCancellation(null)).toBe(false);
  });

  it('suppressedErrors is empty for errors nothing was suppressed for, and for primitives', () => {
    expect(suppressedErrors(new Error('x'))).toEqual([]);
    expect(suppressedErrors('x')).toEqual([]);
    expect(suppressedErrors(undefined)).toEqual([]);
  });
});
