import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks, untilAborted } from '../../test/helpers.js';
import { CancelledError, suppressedErrors } from '../core/errors.js';
import { QueueFullError, TaskQueue } from './task-queue.js';

describe('TaskQueue', () => {
  it('resolves add with the task result and rejects with its error', async () => {
    const queue = new TaskQueue({ concurrency: 2 });
    expect(await queue.add(async () => 'value')).toBe('value');
    await expect(queue.add(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.add(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(queue.running).toBe(0);
  });

  it('runs at most `concurrency` tasks at once and holds a slot until its task settles', async () => {
    const queue = new TaskQueue({ concurrency: 2 });
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const jobs = gates.map((gate, i) => queue.add(() => {
      started.push(i);
      return gate.promise;
    }));
    await flushMicrotasks();
    expect(started).toEqual([0, 1]);
    expect(queue.running).toBe(2);
    expect(queue.size).toBe(1);
    gates[1]!.resolve();
    await flushMicrotasks();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    await Promise.all(jobs);
  });

  it('runs higher priorities first and equal priorities first-in first-out', async () => {
    const queue = new TaskQueue({ concurrency: 1, paused: true });
    const order: string[] = [];
    const add = (name: string, priority?: number) => queue.add(() => { order.push(name); }, { priority });
    const jobs = [add('low-1', -1), add('normal-1'), add('high-1', 5), add('normal-2'), add('high-2', 5), add('low-2', -1), add('mid', 2)];
    queue.resume();
    await Promise.all(jobs);
    expect(order).toEqual(['high-1', 'high-2', 'mid', 'normal-1', 'normal-2', 'low-1', 'low-2']);
  });

  it('pause stops starting tasks and resume starts them again', async () => {
    const queue = new TaskQueue({ concurrency: 2 });
    queue.pause();
    expect(queue.isPaused).toBe(true);
    const task = vi.fn(() => 1);
    const job = queue.add(task);
    await flushMicrotasks();
    expect(task).not.toHaveBeenCalled();
    queue.resume();
    expect(await job).toBe(1);
  });

  it('onIdle, onEmpty and onSizeLessThan resolve when their condition holds', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const gates = [deferred(), deferred(), deferred()];
    const jobs = gates.map((gate) => queue.add(() => gate.promise));
    const events: string[] = [];
    void queue.onSizeLessThan(2).then(() => events.push('size<2'));
    void queue.onEmpty().then(() => events.push('empty'));
    void queue.onIdle().then(() => events.push('idle'));
    await flushMicrotasks();
    expect(events).toEqual([]);
    gates[0]!.resolve();
    await flushMicrotasks();
    expect(events).toEqual(['size<2']);
    gates[1]!.resolve();
    await flushMicrotasks();
    expect(events).toEqual(['size<2', 'empty']);
    gates[2]!.resolve();
    await Promise.all(jobs);
    await flushMicrotasks();
    expect(events).toEqual(['size<2', 'empty', 'idle']);
    await queue.onIdle(); // already idle: resolves at once
  });

  it('rejects add with QueueFullError past maxSize, counting only waiting tasks', async () => {
    const queue = new TaskQueue({ concurrency: 1, maxSize: 1 });
    const gate = deferred();
    const running = queue.add(() => gate.promise);
    const waiting = queue.add(() => 'second');
    await expect(queue.add(() => 'third')).rejects.toBeInstanceOf(QueueFullError);
    gate.resolve();
    await running;
    expect(await waiting).toBe('second');
  });

  it('with whenFull: wait, add waits for room in order instead of rejecting', async () => {
    const queue = new TaskQueue({ concurrency: 1, maxSize: 1, whenFull: 'wait' });
    const gate = deferred();
    const order: string[] = [];
    const jobs = [
      queue.add(() => gate.promise),
      queue.add(() => { order.push('a'); }),
      queue.add(() => { order.push('b'); }),
      queue.add(() => { order.push('c'); }),
    ];
    expect(queue.size).toBe(1);
    gate.resolve();
    await Promise.all(jobs);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('with maxSize 0 and whenFull: wait, hands each task over as soon as a slot frees', async () => {
    const queue = new TaskQueue({ concurrency: 1, maxSize: 0 });
    const gate = deferred();
    const first = queue.add(() => gate.promise);
    const second = queue.add(() => 'second', { whenFull: 'wait' });
    gate.resolve();
    await first;
    expect(await second).toBe('second');
  });

  it('clear rejects every waiting task with CancelledError and leaves running ones alone', async () => {
    const queue = new TaskQueue({ concurrency: 1, maxSize: 1, whenFull: 'wait' });
    const gate = deferred<string>();
    const running = queue.add(() => gate.promise);
    const queued = queue.add(() => 'queued');
    const waitingForRoom = queue.add(() => 'waiting for room');
    const empty = queue.onEmpty();
    queue.clear();
    await expect(queued).rejects.toBeInstanceOf(CancelledError);
    await expect(waitingForRoom).rejects.toBeInstanceOf(CancelledError);
    await empty;
    expect(queue.size).toBe(0);
    gate.resolve('still ran');
    expect(await running).toBe('still ran');
  });

  it('an abort while waiting rejects with the reason and removes the task', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const gate = deferred();
    const running = queue.add(() => gate.promise);
    const controller = new AbortController();
    const task = vi.fn();
    const waiting = queue.add(task, { signal: controller.signal });
    const reason = new Error('no longer needed');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(queue.size).toBe(0);
    gate.resolve();
    await running;
    expect(task).not.toHaveBeenCalled();
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('an already aborted signal rejects at once without queueing', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const controller = new AbortController();
    controller.abort(new Error('already'));
    await expect(queue.add(() => 1, { signal: controller.signal })).rejects.toThrow('already');
    expect(queue.size + queue.running).toBe(0);
  });

  it('an abort while running reaches the task; the slot is held until the task settles', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const controller = new AbortController();
    const cleanup = deferred();
    const job = queue.add(async (signal) => {
      await untilAborted(signal).catch(() => cleanup.promise);
    }, { signal: controller.signal });
    const next = queue.add(() => 'next');
    await flushMicrotasks();
    controller.abort(new Error('stop'));
    await flushMicrotasks();
    expect(queue.running).toBe(1);
    expect(queue.size).toBe(1);
    cleanup.resolve();
    await expect(job).rejects.toThrow('stop');
    expect(await next).toBe('next');
  });

  it('a waiting task runs in the async context of the code that added it', async () => {
    const storage = new AsyncLocalStorage<string>();
    const queue = new TaskQueue({ concurrency: 1 });
    const gate = deferred();
    const first = storage.run('first', () => queue.add(() => gate.promise));
    const second = storage.run('second', () => queue.add(() => storage.getStore()));
    const third = storage.run('third', () => queue.add(async () => {
      await flushMicrotasks(2);
      return storage.getStore();
    }));
    storage.run('releaser', () => gate.resolve());
    await first;
    expect(await second).toBe('second');
    expect(await third).toBe('third');
    storage.disable();
  });

  it('waits on onIdle can be aborted, and leave no listener behind', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const gate = deferred();
    const job = queue.add(() => gate.promise);
    const controller = new AbortController();
    const idle = queue.onIdle({ signal: controller.signal });
    controller.abort();
    await expect(idle).rejects.toMatchObject({ name: 'AbortError' });
    expect(abortListenerCount(controller.signal)).toBe(0);
    gate.resolve();
    await job;
  });

  it('raising concurrency at runtime starts waiting tasks', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const gate = deferred();
    const first = queue.add(() => gate.promise);
    const second = queue.add(() => 'second');
    queue.concurrency = 2;
    expect(await second).toBe('second');
    gate.resolve();
    await first;
  });

  it('rejects invalid arguments with messages that say what is allowed', () => {
    expect(() => new TaskQueue({ concurrency: 0 })).toThrow('concurrency must be an integer >= 1 or Infinity, got 0');
    expect(() => new TaskQueue({ maxSize: -1 })).toThrow('maxSize must be an integer >= 0 or Infinity, got -1');
    expect(() => new TaskQueue({ whenFull: 'drop' as any })).toThrow(`whenFull must be 'reject' or 'wait', got "drop"`);
    expect(() => new TaskQueue({ paused: 1 as any })).toThrow(TypeError);
    const queue = new TaskQueue();
    expect(() => queue.add(42 as any)).toThrow('task must be a function, got 42');
    expect(() => queue.add(() => 1, { priority: NaN })).toThrow(TypeError);
    expect(() => queue.onSizeLessThan(0)).toThrow(RangeError);
  });

  it('infers the task result type', () => {
    const queue = new TaskQueue();
    expectTypeOf(queue.add(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(queue.addAll([async () => 'a'])).toEqualTypeOf<Promise<string[]>>();
  });

  describe('addAll', () => {
    it('runs every task of the batch and resolves with the results in order', async () => {
      const queue = new TaskQueue({ concurrency: 3 });
      let running = 0;
      let peak = 0;
      const tasks = Array.from({ length: 50 }, (_, i) => async () => {
        peak = Math.max(peak, ++running);
        await flushMicrotasks(i % 4);
        running--;
        return i;
      });
      expect(await queue.addAll(tasks)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(peak).toBe(3);
      expect(queue.size + queue.running).toBe(0);
    });

    it('handles synchronous tasks without deep recursion', async () => {
      const queue = new TaskQueue({ concurrency: 2 });
      const tasks = Array.from({ length: 100_000 }, (_, i) => () => i);
      const results = await queue.addAll(tasks);
      expect(results).toHaveLength(100_000);
      expect(results[99_999]).toBe(99_999);
    });

    it('resolves an empty batch at once', async () => {
      expect(await new TaskQueue().addAll([])).toEqual([]);
    });

    it('shares the slots fairly with single tasks in FIFO order', async () => {
      const queue = new TaskQueue({ concurrency: 1, paused: true });
      const order: string[] = [];
      const first = queue.add(() => { order.push('single-1'); });
      const batch = queue.addAll([() => { order.push('batch-1'); }, () => { order.push('batch-2'); }]);
      const last = queue.add(() => { order.push('single-2'); });
      const urgent = queue.add(() => { order.push('urgent'); }, { priority: 1 });
      expect(queue.size).toBe(5);
      queue.resume();
      await Promise.all([first, batch, last, urgent]);
      expect(order).toEqual(['urgent', 'single-1', 'batch-1', 'batch-2', 'single-2']);
    });

    it('fails fast: drops waiting tasks, aborts running ones, rejects with the failure once they settled', async () => {
      const queue = new TaskQueue({ concurrency: 2 });
      const boom = new Error('boom');
      const aborted: unknown[] = [];
      const called: number[] = [];
      const cleanup = deferred();
      const batch = queue.addAll([
        async (signal) => {
          called.push(0);
          await untilAborted(signal).catch(async (reason: unknown) => {
            aborted.push(reason);
            await cleanup.promise;
          });
        },
        async () => {
          called.push(1);
          await flushMicrotasks(2);
          throw boom;
        },
        () => { called.push(2); },
        () => { called.push(3); },
      ]);
      let settled = false;
      void batch.catch(() => {}).finally(() => (settled = true));
      await flushMicrotasks(10);
      expect(aborted).toHaveLength(1);
      expect((aborted[0] as Error).cause).toBe(boom);
      expect(queue.size).toBe(0);
      expect(queue.running).toBe(1);
      expect(settled).toBe(false);
      cleanup.resolve();
      await expect(batch).rejects.toBe(boom);
      expect(called).toEqual([0, 1]);
      expect(queue.running).toBe(0);
    });

    it('keeps later genuine failures of the batch reachable through suppressedErrors', async () => {
      const queue = new TaskQueue({ concurrency: 2 });
      const first = new Error('first');
      const second = new Error('second');
      const error = await queue.addAll([
        async () => {
          await flushMicrotasks(2);
          throw first;
        },
        (signal) => untilAborted(signal).catch(() => {
          throw second;
        }),
      ]).catch((e: unknown) => e);
      expect(error).toBe(first);
      expect(suppressedErrors(error)).toEqual([second]);
    });

    it('settles after the grace period when a task of a failed batch ignores the abort, and reports it', async () => {
      const reports: unknown[] = [];
      const queue = new TaskQueue({ concurrency: 2, graceMs: 10, onStraggler: (report) => reports.push(report) });
      const stuck = deferred();
      const failure = new Error('first');
      const batch = queue.addAll([() => stuck.promise, () => Promise.reject(failure)]);
      await expect(batch).rejects.toBe(failure);
      expect(reports).toEqual([
        { operation: 'TaskQueue.addAll', pending: 1, graceMs: 10, reason: expect.any(CancelledError) },
      ]);
      // The straggler keeps its slot until it truly stops; a late failure is absorbed, not unhandled.
      expect(queue.running).toBe(1);
      stuck.reject(new Error('late'));
      await queue.onIdle();
      expect(suppressedErrors(failure)).toEqual([]);
    });

    it('an abort removes the waiting tasks and rejects with the reason', async () => {
      const queue = new TaskQueue({ concurrency: 1 });
      const gate = deferred();
      const blocker = queue.add(() => gate.promise);
      const controller = new AbortController();
      const task = vi.fn();
      const batch = queue.addAll([task, task], { signal: controller.signal });
      expect(queue.size).toBe(2);
      controller.abort(new Error('stop'));
      await expect(batch).rejects.toThrow('stop');
      expect(queue.size).toBe(0);
      gate.resolve();
      await blocker;
      expect(task).not.toHaveBeenCalled();
      expect(abortListenerCount(controller.signal)).toBe(0);
    });

    it('clear cancels a waiting batch with CancelledError', async () => {
      const queue = new TaskQueue({ concurrency: 1, paused: true });
      const batch = queue.addAll([() => 1, () => 2]);
      queue.clear();
      await expect(batch).rejects.toBeInstanceOf(CancelledError);
      expect(queue.size).toBe(0);
    });

    it('rejects with QueueFullError when the waiting line has no room for the batch', async () => {
      const queue = new TaskQueue({ concurrency: 1, maxSize: 2 });
      const gate = deferred();
      const blocker = queue.add(() => gate.promise);
      await expect(queue.addAll([() => 1, () => 2, () => 3])).rejects.toBeInstanceOf(QueueFullError);
      const fits = queue.addAll([() => 1, () => 2]);
      gate.resolve();
      await blocker;
      expect(await fits).toEqual([1, 2]);
    });

    it('runs batch tasks in the async context of the addAll call, even when started by other tasks', async () => {
      const storage = new AsyncLocalStorage<string>();
      const queue = new TaskQueue({ concurrency: 2 });
      const gate = deferred();
      const blockers = storage.run('blocker', () => [queue.add(() => gate.promise), queue.add(() => gate.promise)]);
      const stores = storage.run('batch', () =>
        queue.addAll(Array.from({ length: 6 }, () => async () => {
          await flushMicrotasks(1);
          return storage.getStore();
        })),
      );
      const single = storage.run('single', () => queue.add(() => storage.getStore()));
      storage.run('releaser', () => gate.resolve());
      await Promise.all(blockers);
      expect(await stores).toEqual(Array.from({ length: 6 }, () => 'batch'));
      expect(await single).toBe('single');
      storage.disable();
    });

    it('rejects invalid arguments', () => {
      const queue = new TaskQueue();
      expect(() => queue.addAll('x' as any)).toThrow('tasks must be an array of functions, got "x"');
      expect(() => queue.addAll([() => 1, 2 as any])).toThrow('tasks[1] must be a function, got 2');
    });
  });
});

describe('TaskQueue under any interleaving', () => {
  it('never exceeds concurrency and settles every add exactly once, whatever aborts and clears happen', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.record({ aborts: fc.boolean(), priority: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.record({ size: fc.integer({ min: 0, max: 4 }), aborts: fc.boolean(), fails: fc.boolean() }),
        async (s, concurrency, specs, clears, batchSpec) => {
          const queue = new TaskQueue({ concurrency });
          let running = 0;
          let peak = 0;
          const settled = specs.map(() => 0);
          const jobs = specs.map((spec, i) => {
            const controller = new AbortController();
            if (spec.aborts) void s.schedule(Promise.resolve(), `abort ${i}`).then(() => controller.abort());
            return queue
              .add(async (signal) => {
                peak = Math.max(peak, ++running);
                try {
                  await Promise.race([s.schedule(Promise.resolve(), `task ${i}`), untilAborted(signal)]);
                } finally {
                  running--;
                }
              }, { signal: controller.signal, priority: spec.priority })
              .then(
                () => settled[i]!++,
                () => settled[i]!++,
              );
          });
          let batchSettled = 0;
          if (batchSpec.size > 0) {
            const controller = new AbortController();
            if (batchSpec.aborts) void s.schedule(Promise.resolve(), 'abort batch').then(() => controller.abort());
            const batchTasks = Array.from({ length: batchSpec.size }, (_, i) => async (signal: AbortSignal) => {
              peak = Math.max(peak, ++running);
              try {
                await Promise.race([s.schedule(Promise.resolve(), `batch task ${i}`), untilAborted(signal)]);
                if (batchSpec.fails && i === 0) throw new Error('batch task failed');
              } finally {
                running--;
              }
            });
            jobs.push(
              queue.addAll(batchTasks, { signal: controller.signal }).then(
                () => batchSettled++,
                () => batchSettled++,
              ),
            );
          }
          if (clears) void s.schedule(Promise.resolve(), 'clear').then(() => queue.clear());
          await s.waitFor(Promise.all(jobs));
          if (batchSpec.size > 0) expect(batchSettled).toBe(1);
          await s.waitFor(queue.onIdle());
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(settled.every((count) => count === 1)).toBe(true);
          expect(queue.size + queue.running).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('TaskQueue options and the signal of a task added without one', () => {
  it('rejects an unknown option with a TypeError that names the known ones', () => {
    expect(() => new TaskQueue({ autoStart: false } as any)).toThrow(
      'TaskQueue has no option "autoStart"; its options are concurrency, maxSize, whenFull, paused, graceMs, onStraggler',
    );
    expect(() => new TaskQueue().add(() => 1, { prority: 1 } as any)).toThrow(/TaskQueue.add has no option "prority"/);
  });

  it('gives every queue the one shared never-aborted signal instead of making its own', async () => {
    const first = await new TaskQueue().add((signal) => signal);
    const second = await new TaskQueue().add((signal) => signal);
    expect(first).toBe(second);
  });

  it('settles a thousand onIdle waiters together once the queue is idle', async () => {
    const queue = new TaskQueue({ concurrency: 2 });
    const gate = deferred();
    for (let i = 0; i < 10; i++) void queue.add(() => gate.promise);
    let resolved = 0;
    const waiters = Array.from({ length: 1_000 }, () => queue.onIdle().then(() => resolved++));
    await flushMicrotasks();
    expect(resolved).toBe(0);
    gate.resolve();
    await Promise.all(waiters);
    expect(resolved).toBe(1_000);
  });
});
