import { describe, expect, it } from 'vitest';
import { CancelledError, isCancellation, isTimeout, ScopeClosedError, suppressedErrors, TimeoutError } from './errors.js';

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

describe('isTimeout', () => {
  it("recognises skein's TimeoutError and the DOMException of AbortSignal.timeout()", async () => {
    const signal = AbortSignal.timeout(0);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect(isTimeout(signal.reason)).toBe(true);
    expect(isTimeout(new TimeoutError())).toBe(true);
  });

  it('tells a timeout apart from a cancellation and from anything else', () => {
    expect(isTimeout(new CancelledError())).toBe(false);
    expect(isTimeout(new Error('boom'))).toBe(false);
    expect(isTimeout(null)).toBe(false);
    expect(isTimeout('TimeoutError')).toBe(false);
  });
});

describe('unknown option names', () => {
  it('are rejected with a TypeError naming the known ones, everywhere options are taken', async () => {
    const { gather } = await import('./gather.js');
    const { scope } = await import('./scope.js');
    const { timeout } = await import('./timeout.js');
    expect(() => gather([], { setle: true } as any)).toThrow('gather has no option "setle"; its options are signal, timeout, graceMs, onStraggler, settle');
    expect(() => scope(() => 1, { deadLine: 5 } as any)).toThrow(/scope has no option "deadLine"/);
    expect(() => timeout(() => 1, 5, { timeout: 5 } as any)).toThrow(/timeout has no option "timeout"/);
  });
});
