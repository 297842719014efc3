import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from './deque.js';
import { WaitQueue } from './wait-queue.js';

describe('Deque', () => {
  it('behaves like an array used at both ends, through any sequence of operations and growth', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('push' as const), value: fc.integer() }),
      fc.record({ op: fc.constant('unshift' as const), value: fc.integer() }),
      fc.record({ op: fc.constant('shift' as const) }),
      fc.record({ op: fc.constant('pop' as const) }),
      fc.record({ op: fc.constant('removeIf' as const), value: fc.integer({ min: 2, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const deque = new Deque<number>();
        const model: number[] = [];
        for (const step of operations) {
          switch (step.op) {
            case 'push':
              deque.push(step.value);
              model.push(step.value);
              break;
            case 'unshift':
              deque.unshift(step.value);
              model.unshift(step.value);
              break;
            case 'shift':
              expect(deque.shift()).toBe(model.shift());
              break;
            case 'pop':
              expect(deque.pop()).toBe(model.pop());
              break;
            case 'removeIf': {
              const divisor = step.value;
              const kept = model.filter((v) => v % divisor !== 0);
              expect(deque.removeIf((v) => v % divisor === 0)).toBe(model.length - kept.length);
              model.splice(0, model.length, ...kept);
              break;
            }
          }
          expect(deque.length).toBe(model.length);
          expect(deque.peek()).toBe(model[0]);
          expect(deque.peekBack()).toBe(model[model.length - 1]);
        }
        expect([...deque]).toEqual(model);
        expect(deque.at(0)).toBe(model[0]);
        expect(deque.at(model.length)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('returns undefined from shift, pop and peek when empty', () => {
    const deque = new Deque<string>();
    expect(deque.shift()).toBeUndefined();
    expect(deque.pop()).toBeUndefined();
    expect(deque.peek()).toBeUndefined();
    expect(deque.peekBack()).toBeUndefined();
  });

  it('empties on clear and can be reused', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 100; i++) deque.push(i);
    deque.clear();
    expect(deque.length).toBe(0);
    deque.push(7);
    expect(deque.shift()).toBe(7);
  });
});

describe('WaitQueue', () => {
  it('forgets a waiter that leaves from the middle and never returns it', () => {
    const queue = new WaitQueue<{ done: boolean; id: number }>();
    const waiters = [1, 2, 3].map((id) => ({ done: false, id }));
    for (const waiter of waiters) queue.push(waiter);
    waiters[1]!.done = true;
    queue.leave(waiters[1]!);
    expect(queue.size).toBe(2);
    expect(queue.shift()?.id).toBe(1);
    expect(queue.shift()?.id).toBe(3);
    expect(queue.shift()).toBeUndefined();
  });

  it('keeps memory bounded when most waiters leave without reaching the front', () => {
    const queue = new WaitQueue<{ done: boolean; id: number }>();
    const head = { done: false, id: -1 };
    queue.push(head);
    for (let i = 0; i < 10_000; i++) {
      const waiter = { done: false, id: i };
      queue.push(waiter);
      waiter.done = true;
      queue.leave(waiter);
    }
    expect(queue.size).toBe(1);
    expect(queue.drain()).toEqual([head]);
  });
});
