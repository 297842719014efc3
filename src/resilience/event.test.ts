import { describe, expect, it } from 'vitest';
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
    expect(() => new EventEmitter<number>().event(42 as never)).toThrow(/listener must be a function, got number/);
  });
});
