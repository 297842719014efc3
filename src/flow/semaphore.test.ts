import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { deferred, flushMicrotasks } from '../../test/helpers.js';
import { TimeoutError } from '../core/errors.js';
import { Mutex } from './mutex.js';
import { Semaphore, type Permit } from './semaphore.js';

describe('Semaphore', () => {
  it('lets up to `permits` holders in at once', async () => {
    const semaphore = new Semaphore(3);
    const held = await Promise.all([semaphore.acquire(), semaphore.acquire(), semaphore.acquire()]);
    expect(semaphore.available).toBe(0);
    const fourth = semaphore.acquire();
    expect(semaphore.waiting).toBe(1);
    held[0].release();
    (await fourth).release();
    for (const permit of held) permit.release();
    expect(semaphore.available).toBe(3);
  });

  it('serves weighted waiters first-in first-out: a heavy waiter blocks lighter ones behind it', async () => {
    const semaphore = new Semaphore(4);
    const first = await semaphore.acquire({ weight: 3 });
    const order: string[] = [];
    const heavy = semaphore.acquire({ weight: 4 }).then((permit) => {
      order.push('heavy');
      return permit;
    });
    const light = semaphore.acquire({ weight: 1 }).then((permit) => {
      order.push('light');
      return permit;
    });
    await flushMicrotasks();
    // One permit is free, but the light waiter must not overtake the heavy one (no starvation).
    expect(order).toEqual([]);
    expect(semaphore.available).toBe(1);
    first.release();
    const heavyPermit = await heavy;
    expect(order).toEqual(['heavy']);
    heavyPermit.release();
    (await light).release();
    expect(order).toEqual(['heavy', 'light']);
  });

  it('serves the waiters behind a heavy front waiter that aborts', async () => {
    const semaphore = new Semaphore(2);
    const held = await semaphore.acquire();
    const controller = new AbortController();
    const heavy = semaphore.acquire({ weight: 2, signal: controller.signal });
    const light = semaphore.acquire();
    controller.abort();
    await expect(heavy).rejects.toMatchObject({ name: 'AbortError' });
    (await light).release();
    held.release();
    expect(semaphore.available).toBe(2);
  });

  it('a newcomer waits behind existing waiters even when permits are free for it', async () => {
    const semaphore = new Semaphore(2);
    const held = await semaphore.acquire();
    const heavy = semaphore.acquire({ weight: 2 });
    expect(semaphore.tryAcquire()).toBeUndefined();
    const newcomer = semaphore.acquire();
    expect(semaphore.waiting).toBe(2);
    held.release();
    const heavyPermit = await heavy;
    heavyPermit.release();
    (await newcomer).release();
  });

  it('serves waiters when permits are raised at runtime', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const waiter = semaphore.acquire();
    semaphore.permits = 2;
    const permit = await waiter;
    expect(semaphore.available).toBe(0);
    permit.release();
    held.release();
  });

  it('keeps holders when permits are lowered, and rejects waiters whose weight no longer fits', async () => {
    const semaphore = new Semaphore(3);
    const held = await semaphore.acquire({ weight: 3 });
    const tooHeavy = semaphore.acquire({ weight: 3 });
    const fits = semaphore.acquire({ weight: 1 });
    semaphore.permits = 1;
    await expect(tooHeavy).rejects.toThrow(RangeError);
    expect(semaphore.available).toBe(0);
    held.release();
    const permit = await fits;
    expect(semaphore.available).toBe(0);
    permit.release();
    expect(semaphore.available).toBe(1);
  });

  it('rejects invalid arguments with messages that say what is allowed', () => {
    expect(() => new Semaphore(0)).toThrow('permits must be an integer >= 1, got 0');
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore('2' as any)).toThrow('permits must be an integer >= 1, got "2"');
    const semaphore = new Semaphore(2);
    expect(() => semaphore.acquire({ weight: 0 })).toThrow('weight must be an integer >= 1, got 0');
    expect(() => semaphore.acquire({ weight: 3 })).toThrow("weight 3 exceeds the semaphore's 2 permits");
    expect(() => semaphore.acquire({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => semaphore.acquire({ signal: 'no' as any })).toThrow(TypeError);
    expect(() => semaphore.acquire(null as any)).toThrow(TypeError);
    expect(() => semaphore.run('task' as any)).toThrow('task must be a function, got "task"');
    expect(() => (semaphore.permits = -1)).toThrow(RangeError);
  });

  it('run with a timeout that passes while waiting rejects with a TimeoutError and never calls the task', async () => {
    vi.useFakeTimers();
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const task = vi.fn();
    const outcome = semaphore.run(task, { timeoutMs: 100 }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(semaphore.waiting).toBe(0);
    held.release();
    await flushMicrotasks();
    expect(task).not.toHaveBeenCalled();
    expect(semaphore.available).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('run settles after the grace period when the task ignores its abort, and keeps the permit until it stops', async () => {
    vi.useFakeTimers();
    const semaphore = new Semaphore(1);
    const stop = deferred();
    const onStraggler = vi.fn();
    const outcome = semaphore.run(() => stop.promise, { timeoutMs: 10, graceMs: 100, onStraggler }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(110);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(onStraggler).toHaveBeenCalledWith(expect.objectContaining({ operation: 'Semaphore.run', pending: 1 }));
    expect(semaphore.available).toBe(0);
    stop.resolve();
    await flushMicrotasks();
    expect(semaphore.available).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once a zero timeout that cannot be served now', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire({ timeoutMs: 0 });
    await expect(semaphore.acquire({ timeoutMs: 0 })).rejects.toMatchObject({ name: 'TimeoutError' });
    held.release();
  });

  it('runs a waiting task in the async context of its caller, not of the releaser', async () => {
    const storage = new AsyncLocalStorage<string>();
    const semaphore = new Semaphore(1);
    const release = deferred();
    const first = storage.run('first', () => semaphore.run(() => release.promise));
    const second = storage.run('second', () => semaphore.run(() => storage.getStore()));
    storage.run('releaser', () => release.resolve());
    await first;
    expect(await second).toBe('second');
    storage.disable();
  });

  it('infers the task result type', () => {
    const semaphore = new Semaphore(1);
    expectTypeOf(semaphore.run(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(semaphore.acquire()).toEqualTypeOf<Promise<Permit>>();
  });
});

describe('Semaphore under any interleaving', () => {
  it('never has more than `permits` in use, and serves or rejects every waiter exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ weight: fc.integer({ min: 1, max: 4 }), aborts: fc.boolean() }), {
          minLength: 1,
          maxLength: 8,
        }),
        async (s, permits, specs) => {
          const semaphore = new Semaphore(permits);
          let inUse = 0;
          let peak = 0;
          const outcomes = specs.map(() => 0);
          const runs = specs.map(async (spec, i) => {
            const weight = Math.min(spec.weight, permits);
            const controller = new AbortController();
            if (spec.aborts) void s.schedule(Promise.resolve(), `abort ${i}`).then(() => controller.abort());
            let permit: Permit;
            try {
              await s.schedule(Promise.resolve(), `arrive ${i}`);
              permit = await semaphore.acquire({ weight, signal: controller.signal });
            } catch {
              outcomes[i]!++;
              return;
            }
            outcomes[i]!++;
            inUse += weight;
            peak = Math.max(peak, inUse);
            expect(inUse).toBeLessThanOrEqual(permits);
            await s.schedule(Promise.resolve(), `work ${i}`);
            inUse -= weight;
            permit.release();
          });
          await s.waitFor(Promise.all(runs));
          expect(outcomes.every((count) => count === 1)).toBe(true);
          expect(peak).toBeLessThanOrEqual(permits);
          expect(semaphore.available).toBe(permits);
          expect(semaphore.waiting).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Semaphore.run and Mutex.runExclusive when the caller aborts between the grant and the call', () => {
  const locks = {
    'Semaphore.run': () => {
      const semaphore = new Semaphore(1);
      return { hold: () => semaphore.tryAcquire()!, run: semaphore.run.bind(semaphore), free: () => semaphore.available === 1 };
    },
    'Mutex.runExclusive': () => {
      const mutex = new Mutex();
      return { hold: () => mutex.tryLock()!, run: mutex.runExclusive.bind(mutex), free: () => !mutex.locked };
    },
  };
  for (const [name, make] of Object.entries(locks)) {
    it(`${name} does not call the task and gives the permit back`, async () => {
      const lock = make();
      const held = lock.hold();
      const controller = new AbortController();
      const task = vi.fn(() => 'side effect');
      const outcome = lock.run(task, { signal: controller.signal });
      held.release(); // grants the permit to the waiting run...
      controller.abort(new Error('caller left')); // ...whose caller leaves before the task is called
      await expect(outcome).rejects.toThrow('caller left');
      expect(task).not.toHaveBeenCalled();
      expect(lock.free()).toBe(true);
    });
  }
});

describe('cancelling the waiters of a Semaphore or a Mutex', () => {
  it('Semaphore.cancel rejects every waiter with a CancelledError, empties the queue and keeps held permits', async () => {
    const semaphore = new Semaphore(1);
    const held = semaphore.tryAcquire()!;
    const controller = new AbortController();
    const waiting = [semaphore.acquire(), semaphore.acquire({ signal: controller.signal, timeoutMs: 1_000 })];
    expect(semaphore.cancel()).toBe(2);
    for (const outcome of await Promise.allSettled(waiting)) {
      expect(outcome.status === 'rejected' && (outcome.reason as Error).name).toBe('AbortError');
    }
    expect(semaphore.waiting).toBe(0);
    expect(semaphore.available).toBe(0);
    held.release();
    expect(semaphore.available).toBe(1);
  });

  it('Mutex.cancel rejects the waiters with the reason given and lets the holder keep the lock', async () => {
    const mutex = new Mutex();
    const lock = await mutex.lock();
    const waiting = mutex.lock();
    const reason = new Error('shutting down');
    expect(mutex.cancel(reason)).toBe(1);
    await expect(waiting).rejects.toBe(reason);
    expect(mutex.locked).toBe(true);
    lock.release();
    expect(mutex.locked).toBe(false);
  });
});

describe('priority on Semaphore and Mutex', () => {
  it('serves higher priorities first and equal priorities first-in first-out', async () => {
    const semaphore = new Semaphore(1);
    const held = semaphore.tryAcquire()!;
    const order: string[] = [];
    const wait = (name: string, priority?: number) =>
      semaphore.acquire(priority === undefined ? undefined : { priority }).then((permit) => {
        order.push(name);
        permit.release();
      });
    const all = [wait('a'), wait('low', -1), wait('b', 0), wait('high1', 5), wait('top', 10), wait('high2', 5), wait('low2', -1)];
    expect(semaphore.waiting).toBe(7);
    held.release();
    await Promise.all(all);
    expect(order).toEqual(['top', 'high1', 'high2', 'a', 'b', 'low', 'low2']);
    expect(semaphore.available).toBe(1);
  });

  it('a higher-priority newcomer does not overtake a free permit: it waits only when someone waits', async () => {
    const semaphore = new Semaphore(2);
    const permit = await semaphore.acquire({ priority: 3 });
    expect(semaphore.available).toBe(1);
    permit.release();
  });

  it('Semaphore.run and Mutex.run take a priority', async () => {
    const semaphore = new Semaphore(1);
    const mutex = new Mutex();
    for (const lock of [semaphore, mutex]) {
      const order: number[] = [];
      const gate = deferred();
      const first = lock.run(() => gate.promise);
      const runs = [1, 3, 2].map((priority) => lock.run(() => void order.push(priority), { priority }));
      const timed = lock.run(() => void order.push(4), { priority: 4, timeoutMs: 10_000 });
      gate.resolve();
      await Promise.all([first, ...runs, timed]);
      expect(order).toEqual([4, 3, 2, 1]);
    }
  });

  it('Mutex.lock takes a priority and rejects unknown option names', async () => {
    const mutex = new Mutex();
    const held = await mutex.lock();
    const order: string[] = [];
    const low = mutex.lock().then((lock) => (order.push('low'), lock.release()));
    const high = mutex.lock({ priority: 1 }).then((lock) => (order.push('high'), lock.release()));
    held.release();
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
    expect(() => mutex.lock({ timeout: 10 } as never)).toThrow(/Mutex.lock has no option "timeout"/);
    expect(() => mutex.run(() => 1, { timeout: 10 } as never)).toThrow(/Mutex.run has no option "timeout"/);
  });

  it('rejects a priority that is not a number', () => {
    const semaphore = new Semaphore(1);
    expect(() => semaphore.acquire({ priority: Number.NaN })).toThrow(/priority must be a number/);
    expect(() => semaphore.acquire({ priority: '1' as never })).toThrow(/priority must be a number/);
    expect(() => semaphore.run(() => 1, { priority: Number.NaN })).toThrow(/priority must be a number/);
  });

  it('an aborted or cancelled high-priority waiter leaves its level, and lowering permits keeps the order', async () => {
    const semaphore = new Semaphore(2);
    const held = await semaphore.acquire({ weight: 2 });
    const controller = new AbortController();
    const order: string[] = [];
    const wait = (name: string, options: { priority: number; weight?: number; signal?: AbortSignal }) =>
      semaphore.acquire(options).then(
        (permit) => {
          order.push(name);
          permit.release();
        },
        (error: unknown) => order.push(`${name}: ${(error as Error).name}`),
      );
    const all = [
      wait('heavy', { priority: 9, weight: 2, signal: controller.signal }),
      wait('a', { priority: 1 }),
      wait('b', { priority: 0 }),
      wait('c', { priority: 1 }),
    ];
    controller.abort();
    await flushMicrotasks();
    expect(semaphore.waiting).toBe(3);
    semaphore.permits = 1; // drains and requeues the waiters: their order must not change
    held.release();
    await Promise.all(all);
    expect(order).toEqual(['heavy: AbortError', 'a', 'c', 'b']);
    const again = semaphore.tryAcquire()!;
    const late = [wait('x', { priority: 2 }), wait('y', { priority: -2 })];
    expect(semaphore.cancel()).toBe(2);
    again.release();
    await Promise.all(late);
    expect(order.slice(4)).toEqual(['x: AbortError', 'y: AbortError']);
    expect(semaphore.waiting).toBe(0);
  });

  it('serves in (priority, arrival) order whatever the priorities, aborts and releases', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ priority: fc.integer({ min: -2, max: 2 }), aborts: fc.boolean() }), { minLength: 1, maxLength: 20 }),
        async (specs) => {
          const semaphore = new Semaphore(1);
          const held = semaphore.tryAcquire()!;
          const served: number[] = [];
          const controllers = specs.map(() => new AbortController());
          const waits = specs.map((spec, i) =>
            semaphore.acquire({ priority: spec.priority, signal: controllers[i]!.signal }).then(
              (permit) => {
                served.push(i);
                permit.release();
              },
              () => undefined,
            ),
          );
          specs.forEach((spec, i) => spec.aborts && controllers[i]!.abort());
          expect(semaphore.waiting).toBe(specs.filter((spec) => !spec.aborts).length);
          held.release();
          await Promise.all(waits);
          const expected = specs
            .map((spec, i) => ({ ...spec, i }))
            .filter((spec) => !spec.aborts)
            .sort((a, b) => b.priority - a.priority || a.i - b.i)
            .map((spec) => spec.i);
          expect(served).toEqual(expected);
          expect(semaphore.available).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
