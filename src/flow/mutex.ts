/**
 * Mutual exclusion: a one-permit {@link Semaphore} with the vocabulary people expect of a lock.
 */
import type { GraceOptions } from '../core/grace.js';
import type { Task } from '../core/task.js';
import { assertKnownOptions, assertOptions } from '../core/validate.js';
import { Semaphore, type Permit } from './semaphore.js';

/** Options for {@link Mutex.lock}. */
export interface LockOptions {
  /** Stops waiting: the promise rejects with the signal's reason and the waiter leaves the queue. */
  readonly signal?: AbortSignal;
  /** Stops waiting after this many ms with a `TimeoutError`; any length (re-armed past 24.8 days), `Infinity` for none. */
  readonly timeoutMs?: number;
  /** Higher is served first (default 0); equal priorities first-in first-out. */
  readonly priority?: number;
}

const LOCK_OPTIONS = ['signal', 'timeoutMs', 'priority'];

/** Options for {@link Mutex.run}. */
export interface RunExclusiveOptions extends LockOptions, GraceOptions {}

const RUN_OPTIONS = [...LOCK_OPTIONS, 'graceMs', 'onStraggler'];

/**
 * A lock: one holder at a time, waiters served by `priority` (higher first, default 0) and
 * first-in first-out within a priority, every wait abortable.
 * `run(task)` holds the lock until the task has settled, even when a timeout aborted it.
 *
 * @example
 * ```ts
 * import { Mutex } from 'skein';
 * const mutex = new Mutex();
 * let balance = 100;
 * const withdraw = (amount: number) => mutex.run(async () => {
 *   const current = balance;
 *   await Promise.resolve(); // another withdrawal cannot interleave here
 *   balance = current - amount;
 * });
 * await Promise.all([withdraw(30), withdraw(50)]);
 * console.log(balance); // 20
 * ```
 */
export class Mutex {
  readonly #semaphore = new Semaphore(1);

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this.#semaphore.available === 0;
  }

  /** How many callers are waiting for the lock. */
  get waiting(): number {
    return this.#semaphore.waiting;
  }

  /**
   * Waits for the lock and resolves to a {@link Permit}; `release()` it, or hold it with `using`.
   *
   * @example
   * ```ts
   * import { Mutex } from 'skein';
   * const mutex = new Mutex();
   * {
   *   using _lock = await mutex.lock();
   *   console.log(mutex.locked); // true
   * }
   * console.log(mutex.locked); // false
   * ```
   */
  lock(options?: LockOptions): Promise<Permit> {
    assertOptions(options);
    if (options === undefined) return this.#semaphore.acquire();
    assertKnownOptions(options, LOCK_OPTIONS, 'Mutex.lock');
    return this.#semaphore.acquire({ signal: options.signal, timeoutMs: options.timeoutMs, priority: options.priority });
  }

  /**
   * Rejects every caller waiting for the lock with `reason` (default: a `CancelledError`); the
   * holder keeps it. Returns how many waiters were rejected.
   *
   * @example
   * ```ts
   * import { Mutex } from 'skein';
   * const mutex = new Mutex();
   * const lock = await mutex.lock();
   * const waiting = mutex.lock();
   * console.log(mutex.cancel()); // 1
   * await waiting.catch((error) => console.log(error.name)); // 'AbortError'
   * lock.release();
   * ```
   */
  cancel(reason?: unknown): number {
    return reason === undefined ? this.#semaphore.cancel() : this.#semaphore.cancel(reason);
  }

  /**
   * Takes the lock if it is free and nobody waits, else returns `undefined`.
   *
   * @example
   * ```ts
   * import { Mutex } from 'skein';
   * const mutex = new Mutex();
   * const lock = mutex.tryLock();
   * console.log(lock !== undefined, mutex.tryLock()); // true undefined
   * lock?.release();
   * ```
   */
  tryLock(): Permit | undefined {
    return this.#semaphore.tryAcquire();
  }

  /**
   * Runs `task(signal)` holding the lock, and releases it once the task has settled. `timeoutMs`
   * covers the wait and the run, as in {@link Semaphore.run}.
   *
   * @example
   * ```ts
   * import { Mutex } from 'skein';
   * const mutex = new Mutex();
   * const order: number[] = [];
   * await Promise.all([3, 2, 1].map((n) => mutex.run(() => { order.push(n); })));
   * console.log(order); // [3, 2, 1]
   * ```
   */
  run<T>(task: Task<T>, options?: RunExclusiveOptions): Promise<T> {
    assertOptions(options);
    assertKnownOptions(options, RUN_OPTIONS, 'Mutex.run');
    return this.#semaphore.run(task, options);
  }

  /** @deprecated Use {@link Mutex.run}: every skein primitive that runs a task calls it `run`. */
  runExclusive<T>(task: Task<T>, options?: RunExclusiveOptions): Promise<T> {
    return this.run(task, options);
  }
}
