import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks, untilAborted } from '../../test/helpers.js';
import { CancelledError, suppressedErrors } from '../core/errors.js';
import { QueueFullError, TaskQueue, type TaskInfo } from './task-queue.js';

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

describe('TaskQueue ids and setPriority', () => {
  it('setPriority moves a waiting task, and says false for an id that is not waiting', async () => {
    const queue = new TaskQueue({ concurrency: 1, paused: true });
    const order: string[] = [];
    const jobs = ['a', 'b', 'c', 'd'].map((id) => queue.add(() => void order.push(id), { id }));
    expect(queue.setPriority('d', 2)).toBe(true);
    expect(queue.setPriority('b', 1)).toBe(true);
    expect(queue.setPriority('a', 0)).toBe(true); // unchanged
    expect(queue.setPriority('nobody', 5)).toBe(false);
    queue.resume();
    await Promise.all(jobs);
    expect(order).toEqual(['d', 'b', 'a', 'c']);
    expect(queue.setPriority('a', 3)).toBe(false); // it ran
    expect(() => queue.setPriority('a', Number.NaN)).toThrow(/priority must be a number/);
    expect(() => queue.setPriority(1 as never, 1)).toThrow(/id must be a string/);
  });

  it('a moved task still leaves on abort, with its listener removed', async () => {
    const queue = new TaskQueue({ concurrency: 1, paused: true });
    const controller = new AbortController();
    const task = vi.fn();
    const job = queue.add(task, { id: 'x', signal: controller.signal });
    queue.setPriority('x', 4);
    queue.setPriority('x', -4);
    expect(abortListenerCount(controller.signal)).toBe(1);
    controller.abort(new Error('left'));
    await expect(job).rejects.toThrow('left');
    expect(queue.size).toBe(0);
    expect(queue.setPriority('x', 1)).toBe(false);
    queue.resume();
    await queue.onIdle();
    expect(task).not.toHaveBeenCalled();
  });

  it('setPriority reorders a task that waits for room, and clear forgets ids', async () => {
    const queue = new TaskQueue({ concurrency: 1, maxSize: 1, whenFull: 'wait', paused: true });
    const order: string[] = [];
    const jobs = ['first', 'second', 'third'].map((id) => queue.add(() => void order.push(id), { id }));
    expect(queue.size).toBe(1);
    expect(queue.setPriority('third', 9)).toBe(true); // still waiting for room
    queue.resume();
    await Promise.all(jobs);
    expect(order).toEqual(['first', 'second', 'third']); // admitted one at a time, so it cannot overtake
    queue.pause();
    const cleared = queue.add(() => 1, { id: 'again' });
    queue.clear();
    await expect(cleared).rejects.toBeInstanceOf(CancelledError);
    expect(queue.setPriority('again', 1)).toBe(false);
    const reused = queue.add(() => 2, { id: 'again' });
    queue.resume();
    expect(await reused).toBe(2);
  });

  it('refuses a second waiting task with the same id, and a non-string id', async () => {
    const queue = new TaskQueue({ concurrency: 1, paused: true });
    const first = queue.add(() => 1, { id: 'job' });
    await expect(queue.add(() => 2, { id: 'job' })).rejects.toThrow(/already has the id "job"/);
    expect(() => queue.add(() => 3, { id: 7 as never })).toThrow(/id must be a string/);
    queue.resume();
    expect(await first).toBe(1);
    expect(await queue.add(() => 4, { id: 'job' })).toBe(4); // the first one is gone
  });

  it('addAll rejects unknown option names', () => {
    const queue = new TaskQueue();
    expect(() => queue.addAll([() => 1], { concurrency: 2 } as never)).toThrow(/TaskQueue.addAll has no option "concurrency"/);
  });
});

describe('TaskQueue events', () => {
  it('fires add, active, completed, error, next, empty, pendingZero and idle in order', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const log: string[] = [];
    queue.on('add', (task) => log.push(`add ${task.id}`));
    queue.on('active', (task) => log.push(`active ${task.id}`));
    queue.on('completed', (result, task) => log.push(`completed ${task.id} ${String(result)}`));
    queue.on('error', (error, task) => log.push(`error ${task.id} ${(error as Error).message}`));
    queue.on('next', (task) => log.push(`next ${task.id}`));
    queue.on('empty', () => log.push('empty'));
    queue.on('pendingZero', () => log.push('pendingZero'));
    queue.on('idle', () => log.push('idle'));
    const gate = deferred();
    const a = queue.add(async () => {
      await gate.promise;
      return 'A';
    }, { id: 'a' });
    const b = queue.add(() => {
      throw new Error('B');
    }, { id: 'b', priority: 2 });
    expect(log).toEqual(['add a', 'active a', 'add b']);
    gate.resolve();
    await a;
    await expect(b).rejects.toThrow('B');
    await queue.onIdle();
    expect(log).toEqual([
      'add a', 'active a', 'add b',
      'completed a A', 'empty', 'next a',
      'active b', 'error b B', 'pendingZero', 'idle', 'next b',
    ]);
    // The states fire again each time they are reached anew.
    log.length = 0;
    await queue.add(() => 'C');
    expect(log).toEqual(['add 2', 'active 2', 'completed 2 C', 'pendingZero', 'idle', 'next 2']); // 'b' was 1
  });

  it('gives generated ids while listening, fires per task of a batch, and next for tasks that leave unrun', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const added: TaskInfo[] = [];
    const next: string[] = [];
    queue.on('add', (task) => added.push(task));
    queue.on('next', (task) => next.push(task.id));
    const gate = deferred();
    const running = queue.add(() => gate.promise);
    const controller = new AbortController();
    const leaving = queue.add(() => 'never', { signal: controller.signal });
    const batch = queue.addAll([() => 1, () => 2], { priority: 1 });
    expect(added.map((task) => [task.id, task.priority])).toEqual([['1', 0], ['2', 0], ['3', 1], ['4', 1]]);
    expect(queue.setPriority(added[1]!.id, 5)).toBe(true); // a generated id works like a given one
    controller.abort(new Error('gone'));
    await expect(leaving).rejects.toThrow('gone');
    expect(next).toEqual(['2']);
    gate.resolve();
    await running;
    expect(await batch).toEqual([1, 2]);
    expect(next).toEqual(['2', '1', '3', '4']);
    queue.pause();
    const cleared = [queue.add(() => 0), queue.addAll([() => 0, () => 0])];
    queue.clear();
    await Promise.allSettled(cleared);
    expect(next.slice(4)).toEqual(['5', '6', '7']);
  });

  it('a listener that throws is reported and breaks nothing', async () => {
    const warnings: string[] = [];
    // Caught where it is emitted, so the run's output stays clean.
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation((warning: string | Error) => void warnings.push(String(warning)));
    try {
      const queue = new TaskQueue({ concurrency: 2 });
      const seen: number[] = [];
      for (const name of ['add', 'active', 'completed', 'next', 'empty', 'pendingZero', 'idle'] as const) {
        queue.on(name, () => {
          throw new Error(`${name} listener`);
        });
      }
      queue.on('completed', (result) => seen.push(result as number));
      const results = await Promise.all([1, 2, 3, 4].map((n) => queue.add(async () => n)));
      await queue.onIdle();
      expect(results).toEqual([1, 2, 3, 4]);
      expect(seen.sort()).toEqual([1, 2, 3, 4]);
      expect(queue.running + queue.size).toBe(0);
      expect(warnings.some((message) => message.includes("'completed' listener threw"))).toBe(true);
      expect(warnings.some((message) => message.includes("'idle' listener threw"))).toBe(true);
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('unsubscribes by the returned function or the signal, and rejects unknown names and options', async () => {
    const queue = new TaskQueue();
    const controller = new AbortController();
    const bySignal = vi.fn();
    const byCall = vi.fn();
    queue.on('completed', bySignal, { signal: controller.signal });
    const off = queue.on('completed', byCall);
    await queue.add(() => 1);
    off();
    off();
    controller.abort();
    expect(abortListenerCount(controller.signal)).toBe(0);
    await queue.add(() => 2);
    expect(bySignal).toHaveBeenCalledTimes(1);
    expect(byCall).toHaveBeenCalledTimes(1);
    const aborted = vi.fn();
    queue.on('completed', aborted, { signal: controller.signal });
    await queue.add(() => 3);
    expect(aborted).not.toHaveBeenCalled();
    expect(() => queue.on('finished' as never, vi.fn())).toThrow(/TaskQueue has no event "finished"; its events are add, active/);
    expect(() => queue.on('idle', vi.fn(), { once: true } as never)).toThrow(/TaskQueue.on has no option "once"/);
    expect(() => queue.on('idle', 'no' as never)).toThrow(/listener must be a function/);
  });

  it('returns the same Subscription as every skein event: dispose() and using unsubscribe too', async () => {
    const queue = new TaskQueue();
    const byDispose = vi.fn();
    const byUsing = vi.fn();
    const subscription = queue.on('completed', byDispose);
    {
      using _subscription = queue.on('completed', byUsing);
      await queue.add(() => 1);
    }
    subscription.dispose();
    await queue.add(() => 2);
    expect(byDispose).toHaveBeenCalledTimes(1);
    expect(byUsing).toHaveBeenCalledTimes(1);
  });

  it('onPendingZero resolves once nothing runs, even with tasks waiting, and is abortable', async () => {
    const queue = new TaskQueue({ concurrency: 2 });
    await queue.onPendingZero(); // nothing runs: at once
    const gates = [deferred(), deferred()];
    const jobs = [...gates.map((gate) => queue.add(() => gate.promise)), queue.add(() => 'later')];
    queue.pause();
    let zero = false;
    const pendingZero = queue.onPendingZero().then(() => (zero = true));
    const controller = new AbortController();
    const aborted = queue.onPendingZero({ signal: controller.signal });
    controller.abort(new Error('stop waiting'));
    await expect(aborted).rejects.toThrow('stop waiting');
    gates[0]!.resolve();
    await flushMicrotasks();
    expect(zero).toBe(false);
    gates[1]!.resolve();
    await pendingZero;
    expect(queue.size).toBe(1);
    queue.resume();
    await Promise.all(jobs);
  });
});
