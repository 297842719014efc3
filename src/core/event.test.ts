import { afterEach, describe, expect, it, vi } from 'vitest';
import { abortListenerCount } from '../../test/helpers.js';
import { EventEmitter } from './event.js';

describe('EventEmitter', () => {
  it('delivers to every listener in subscription order', () => {
    const emitter = new EventEmitter<number>();
    const got: string[] = [];
    emitter.event((n) => got.push(`a${n}`));
    emitter.event((n) => got.push(`b${n}`));
    emitter.emit(1);
    expect(got).toEqual(['a1', 'b1']);
  });

  it('stops delivering once the subscription is disposed, and disposing twice is harmless', () => {
    const emitter = new EventEmitter<number>();
    const got: number[] = [];
    const subscription = emitter.event((n) => got.push(n));
    emitter.emit(1);
    subscription.dispose();
    subscription[Symbol.dispose]();
    emitter.emit(2);
    expect(got).toEqual([1]);
    expect(emitter.size).toBe(0);
  });

  it('removes only its own entry when the same listener is subscribed twice', () => {
    const emitter = new EventEmitter<number>();
    const got: number[] = [];
    const listener = (n: number) => got.push(n);
    const first = emitter.event(listener);
    emitter.event(listener);
    first.dispose();
    emitter.emit(7);
    expect(got).toEqual([7]);
  });

  it('works with using', () => {
    const emitter = new EventEmitter<void>();
    let calls = 0;
    {
      using _subscription = emitter.event(() => calls++);
      emitter.emit();
    }
    emitter.emit();
    expect(calls).toBe(1);
  });

  it('applies (un)subscriptions made during delivery to the next delivery', () => {
    const emitter = new EventEmitter<number>();
    const got: string[] = [];
    const late = (n: number) => got.push(`late${n}`);
    const self = emitter.event((n) => {
      got.push(`self${n}`);
      self.dispose();
      emitter.event(late);
    });
    emitter.emit(1);
    emitter.emit(2);
    expect(got).toEqual(['self1', 'late2']);
  });

  it('refuses a listener that is not a function', () => {
    expect(() => new EventEmitter<number>().event(42 as never)).toThrow(/listener must be a function, got 42/);
  });

  it('returns a subscription that is also a function: calling it unsubscribes', () => {
    const emitter = new EventEmitter<number>();
    const got: number[] = [];
    const off = emitter.event((n) => got.push(n));
    emitter.emit(1);
    off();
    off();
    emitter.emit(2);
    expect(got).toEqual([1]);
    expect(emitter.size).toBe(0);
  });

  it('unsubscribes when the signal aborts, and leaves no abort listener behind', () => {
    const emitter = new EventEmitter<number>();
    const controller = new AbortController();
    const got: number[] = [];
    const subscription = emitter.event((n) => got.push(n), { signal: controller.signal });
    emitter.emit(1);
    expect(abortListenerCount(controller.signal)).toBe(1);
    controller.abort();
    emitter.emit(2);
    expect(got).toEqual([1]);
    expect(emitter.size).toBe(0);
    subscription.dispose();
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('does not subscribe at all under a signal that has already aborted', () => {
    const emitter = new EventEmitter<number>();
    const subscription = emitter.event(() => {}, { signal: AbortSignal.abort() });
    expect(emitter.size).toBe(0);
    subscription();
  });

  it('refuses unknown option names', () => {
    const emitter = new EventEmitter<number>();
    expect(() => emitter.event(() => {}, { signl: AbortSignal.abort() } as never)).toThrow(/has no option "signl"/);
  });

  describe('a listener that throws', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('is reported as a process warning, and the other listeners and the emitter go on', () => {
      const warnings: { message: string; code: unknown }[] = [];
      vi.spyOn(process, 'emitWarning').mockImplementation(((message: string, options: { code?: string }) =>
        void warnings.push({ message, code: options.code })) as typeof process.emitWarning);
      const emitter = new EventEmitter<number>('a test event');
      const got: number[] = [];
      emitter.event(() => {
        throw new Error('listener bug');
      });
      emitter.event((n) => got.push(n));
      expect(() => emitter.emit(1)).not.toThrow();
      expect(got).toEqual([1]);
      expect(warnings).toEqual([{ message: 'skein: a test event listener threw: Error: listener bug', code: 'SKEIN_LISTENER_FAILED' }]);
    });
  });
});
