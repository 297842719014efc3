/**
 * One contract for every lock in skein: a one-permit Semaphore and a Mutex must behave the same way.
 */
import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks, untilAborted } from '../../test/helpers.js';
import { TimeoutError } from '../core/errors.js';
import { Mutex } from './mutex.js';
import { Semaphore, type Permit } from './semaphore.js';

interface Lock {
  acquire(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Permit>;
  tryAcquire(): Permit | undefined;
  run<T>(task: (signal: AbortSignal) => T | PromiseLike<T>, options?: { signal?: AbortSignal; timeoutMs?: number; graceMs?: number }): Promise<T>;
  readonly held: boolean;
  readonly waiting: number;
}

const implementations: Record<string, () => Lock> = {
  'Semaphore(1)': () => {
    const semaphore = new Semaphore(1);
    return {
      acquire: (options) => semaphore.acquire(options),
      tryAcquire: () => semaphore.tryAcquire(),
      run: (task, options) => semaphore.run(task, options),
      get held() {
        return semaphore.available === 0;
      },
      get waiting() {
        return semaphore.waiting;
      },
    };
  },
  Mutex: () => {
    const mutex = new Mutex();
    return {
      acquire: (options) => mutex.lock(options),
      tryAcquire: () => mutex.tryLock(),
      run: (task, options) => mutex.runExclusive(task, options),
      get held() {
        return mutex.locked;
      },
      get waiting() {
        return mutex.waiting;
      },
    };
  },
};

for (const [name, make] of Object.entries(implementations)) {
  describe(`lock contract: ${name}`, () => {
    it('grants a free lock at once and frees it on release', async () => {
      const lock = make();
      const permit = await lock.acquire();
      expect(lock.held).toBe(true);
      permit.release();
      expect(lock.held).toBe(false);
      expect(permit.released).toBe(true);
    });

    it('serves waiters first-in first-out', async () => {
      const lock = make();
      const first = await lock.acquire();
      const order: number[] = [];
      const waiters = [1, 2, 3].map((n) =>
        lock.acquire().then((permit) => {
          order.push(n);
          permit.release();
        }),
      );
      expect(lock.waiting).toBe(3);
      first.release();
      await Promise.all(waiters);
      expect(order).toEqual([1, 2, 3]);
    });

    it('ignores a second release of the same permit', async () => {
      const lock = make();
      const first = await lock.acquire();
      const second = lock.acquire();
      first.release();
      const held = await second;
      first.release();
      expect(lock.held).toBe(true);
      held.release();
    });

    it('releases with using at the end of the block', async () => {
      const lock = make();
      {
        using _permit = await lock.acquire();
        expect(lock.held).toBe(true);
      }
      expect(lock.held).toBe(false);
    });

    it('rejects at once, without queueing, when the signal is already aborted', async () => {
      const lock = make();
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      await expect(lock.acquire({ signal: controller.signal })).rejects.toThrow('gone');
      expect(lock.waiting).toBe(0);
      expect(lock.held).toBe(false);
    });

    it('rejects with the reason and leaves the queue when aborted while waiting', async () => {
      const lock = make();
      const held = await lock.acquire();
      const controller = new AbortController();
      const waiter = lock.acquire({ signal: controller.signal });
      const behind = lock.acquire();
      const reason = new Error('no longer needed');
      controller.abort(reason);
      await expect(waiter).rejects.toBe(reason);
      expect(lock.waiting).toBe(1);
      expect(abortListenerCount(controller.signal)).toBe(0);
      held.release();
      (await behind).release();
    });

    it('rejects with a TimeoutError and leaves the queue when the wait times out', async () => {
      vi.useFakeTimers();
      const lock = make();
      const held = await lock.acquire();
      const waiter = lock.acquire({ timeoutMs: 100 });
      const outcome = waiter.catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(100);
      expect(await outcome).toBeInstanceOf(TimeoutError);
      expect(lock.waiting).toBe(0);
      held.release();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('waits out a timeoutMs longer than a timer can hold (about 24.8 days) instead of refusing it', async () => {
      vi.useFakeTimers();
      const lock = make();
      const held = await lock.acquire();
      const thirtyDaysMs = 30 * 24 * 3_600_000;
      const outcome = lock.acquire({ timeoutMs: thirtyDaysMs }).catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(25 * 24 * 3_600_000);
      expect(lock.waiting).toBe(1);
      await vi.advanceTimersByTimeAsync(thirtyDaysMs - 25 * 24 * 3_600_000);
      expect(await outcome).toBeInstanceOf(TimeoutError);
      expect(lock.waiting).toBe(0);
      held.release();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('runs a task under a timeoutMs longer than a timer can hold, and times it out only at the end', async () => {
      vi.useFakeTimers();
      const lock = make();
      const thirtyDaysMs = 30 * 24 * 3_600_000;
      const outcome = lock.run((signal) => untilAborted(signal), { timeoutMs: thirtyDaysMs }).catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(25 * 24 * 3_600_000);
      expect(lock.held).toBe(true);
      await vi.advanceTimersByTimeAsync(thirtyDaysMs - 25 * 24 * 3_600_000);
      expect(await outcome).toBeInstanceOf(TimeoutError);
      expect(lock.held).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('treats timeoutMs: Infinity as no time limit', async () => {
      vi.useFakeTimers();
      const lock = make();
      const held = await lock.acquire();
      const waiter = lock.acquire({ timeoutMs: Infinity });
      expect(vi.getTimerCount()).toBe(0);
      held.release();
      (await waiter).release();
    });

    it('clears the wait timer once the lock is granted', async () => {
      vi.useFakeTimers();
      const lock = make();
      const held = await lock.acquire();
      const waiter = lock.acquire({ timeoutMs: 1_000 });
      held.release();
      (await waiter).release();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('tryAcquire takes a free lock and refuses a held one', () => {
      const lock = make();
      const permit = lock.tryAcquire();
      expect(permit).toBeDefined();
      expect(lock.tryAcquire()).toBeUndefined();
      permit!.release();
    });

    it('run holds the lock until the task settles and returns its value', async () => {
      const lock = make();
      const gate = deferred<string>();
      const running = lock.run(() => gate.promise);
      await flushMicrotasks();
      expect(lock.held).toBe(true);
      gate.resolve('done');
      await expect(running).resolves.toBe('done');
      expect(lock.held).toBe(false);
    });

    it('run releases the lock when the task throws or rejects', async () => {
      const lock = make();
      await expect(lock.run(() => { throw new Error('sync'); })).rejects.toThrow('sync');
      await expect(lock.run(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
      expect(lock.held).toBe(false);
    });

    it('run keeps the lock after a timeout aborted the task, until the task really stops', async () => {
      vi.useFakeTimers();
      const lock = make();
      const stopped = deferred();
      let reason: unknown;
      const running = lock.run(
        async (signal) => {
          await untilAborted(signal).catch((error: unknown) => (reason = error));
          await stopped.promise; // slow cleanup
        },
        { timeoutMs: 50, graceMs: Infinity },
      );
      const outcome = running.catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(50);
      expect(reason).toBeInstanceOf(TimeoutError);
      expect(lock.held).toBe(true);
      expect(lock.tryAcquire()).toBeUndefined();
      stopped.resolve();
      expect(await outcome).toBe(reason);
      expect(lock.held).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('run passes an abort to the running task and rejects with its reason once it settles', async () => {
      const lock = make();
      const controller = new AbortController();
      const started = deferred();
      const running = lock.run(
        (signal) => {
          started.resolve();
          return untilAborted(signal);
        },
        { signal: controller.signal },
      );
      await started.promise;
      const reason = new Error('caller left');
      controller.abort(reason);
      await expect(running).rejects.toBe(reason);
      expect(lock.held).toBe(false);
      expect(abortListenerCount(controller.signal)).toBe(0);
    });

    it('does not grow the listeners of a signal reused for many acquisitions', async () => {
      const lock = make();
      const controller = new AbortController();
      for (let i = 0; i < 50; i++) {
        const held = await lock.acquire();
        const waiter = lock.acquire({ signal: controller.signal });
        held.release();
        (await waiter).release();
        await lock.run(() => i, { signal: controller.signal });
      }
      expect(abortListenerCount(controller.signal)).toBe(0);
    });
  });
}
