/**
 * A weighted counting semaphore with strict priority-then-first-in-first-out service. A waiter that
 * needs more permits than are free blocks the ones behind it, even those that would fit: that is what
 * keeps a heavy waiter from starving behind a stream of light ones.
 */
import { CancelledError, TimeoutError } from '../core/errors.js';
import type { GraceOptions } from '../core/grace.js';
import { validateGrace } from '../core/grace.js';
import { AbortFanout, linkSignal, neverAbortedSignal } from '../core/signal.js';
import type { Task } from '../core/task.js';
import { armTimer } from '../core/timer.js';
import { assertDuration, assertFunction, assertInteger, assertKnownOptions, assertOptions, assertPriority, assertSignal } from '../core/validate.js';
import { runHeld } from './held.js';
import { PriorityWaitQueue, type RankedWaiter } from './wait-queue.js';

/**
 * Permits held from a {@link Semaphore} (or a {@link Mutex} lock). Give them back with `release()`,
 * or let `using` do it: `using permit = await semaphore.acquire()`. Releasing twice does nothing.
 *
 * @example
 * ```ts
 * import { Semaphore } from 'skein';
 * const semaphore = new Semaphore(2);
 * {
 *   using permit = await semaphore.acquire();
 *   console.log(permit.weight, semaphore.available); // 1 1
 * }
 * console.log(semaphore.available); // 2
 * ```
 */
export interface Permit extends Disposable {
  /** How many permits this holds. */
  readonly weight: number;
  /** True once `release()` (or dispose) has given the permits back. */
  readonly released: boolean;
  /** Gives the permits back and serves the next waiters. Idempotent. */
  release(): void;
}

/** Options for {@link Semaphore.acquire}. */
export interface AcquireOptions {
  /** Stops waiting: the promise rejects with the signal's reason and the waiter leaves the queue. */
  readonly signal?: AbortSignal;
  /** How many permits to take at once (default 1); at most the semaphore's `permits`. */
  readonly weight?: number;
  /**
   * Stops waiting after this many ms with a {@link TimeoutError}. Any length is honoured (past the
   * 24.8 days a timer holds, the timer is re-armed); `Infinity` means no limit.
   */
  readonly timeoutMs?: number;
  /**
   * Higher is served first (default 0); equal priorities are served first-in first-out. A waiter
   * that cannot be served yet blocks every waiter behind it, lower priorities included.
   */
  readonly priority?: number;
}

/** Options for {@link Semaphore.run}. */
export interface SemaphoreRunOptions extends AcquireOptions, GraceOptions {}

/** `timeoutMs` may be any length (armTimer re-arms past 24.8 days) or `Infinity` (no limit). */
const TIMEOUT_RANGE = { allowInfinity: true, long: true } as const;

/** Every option `acquire` and `run` read (`run` passes its own options on to `acquire`). */
const RUN_OPTIONS = ['signal', 'weight', 'timeoutMs', 'priority', 'graceMs', 'onStraggler'];

class HeldPermit implements Permit {
  #giveBack: ((weight: number) => void) | undefined;
  readonly weight: number;

  constructor(giveBack: (weight: number) => void, weight: number) {
    this.#giveBack = giveBack;
    this.weight = weight;
  }

  get released(): boolean {
    return this.#giveBack === undefined;
  }

  release(): void {
    const giveBack = this.#giveBack;
    if (giveBack === undefined) return;
    this.#giveBack = undefined;
    keepReleased(this);
    giveBack(this.weight);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

class AcquireWaiter implements RankedWaiter {
  done = false;
  readonly weight: number;
  readonly priority: number;
  resolve: (permit: Permit) => void = noop;
  reject: (reason: unknown) => void = noop;
  cleanup: (() => void) | undefined = undefined;

  constructor(weight: number, priority: number) {
    this.weight = weight;
    this.priority = priority;
  }
}

function noop(): void {}

/**
 * The last permit released and the last waiter served, emptied of everything they referred to, kept
 * as long as the module. Measured, not derived: when a full GC found no permit or waiter that had been
 * through `release` and `#serve` alive, V8 threw away the optimised acquire, #wait, #serve, release
 * and the constructors ("weak objects" deopts: 193 in 30 collections on a busy semaphore, none now),
 * and the contended semaphore ran 2 to 3 times slower after each. A permit and a waiter made at
 * module load, with the same hidden classes (checked), did not prevent it; one that went through the
 * hot path does. Which weakly held object V8 was missing was not pinned down.
 * They hold no promise, no function of a caller and no semaphore: nothing else stays alive.
 */
let _releasedPermit: HeldPermit | undefined;
let _servedWaiter: AcquireWaiter | undefined;
function keepReleased(permit: HeldPermit): void {
  _releasedPermit = permit;
}

/**
 * Limits how many tasks hold a resource at once. `acquire()` waits for permits and resolves to a
 * {@link Permit}; `run(task)` acquires, runs the task with a signal and releases only once the task
 * has settled, even when a timeout aborted it. Waiters are served in `priority` order (higher first,
 * default 0) and first-in first-out within a priority, weighted ones included; an aborted or
 * timed-out waiter leaves the queue at once, and `cancel()` rejects every waiter.
 *
 * @example
 * ```ts
 * import { Semaphore, sleep } from 'skein';
 * const connections = new Semaphore(2);
 * let open = 0;
 * let peak = 0;
 * await Promise.all([1, 2, 3, 4, 5].map((id) => connections.run(async (signal) => {
 *   peak = Math.max(peak, ++open);
 *   await sleep(5, { signal });
 *   open--;
 *   return id;
 * })));
 * console.log(peak); // 2
 * ```
 */
export class Semaphore {
  #permits: number;
  #inUse = 0;
  readonly #fanout = new AbortFanout();
  readonly #queue = new PriorityWaitQueue<AcquireWaiter>(this.#fanout);
  readonly #giveBack = (weight: number): void => {
    this.#inUse -= weight;
    if (this.#queue.size > 0) this.#serve();
  };
  /** @param permits how many permits there are (an integer >= 1). */
  constructor(permits: number) {
    assertInteger(permits, 'permits', { min: 1 });
    this.#permits = permits;
  }

  /**
   * How many permits exist. Setting it takes effect at once: raising it serves waiters, lowering it
   * lets holders keep what they have (new acquirers wait until enough is released) and rejects, with
   * a `RangeError`, waiters whose weight no longer fits at all.
   */
  get permits(): number {
    return this.#permits;
  }

  set permits(value: number) {
    assertInteger(value, 'permits', { min: 1 });
    this.#permits = value;
    if (this.#queue.size === 0) return;
    for (const waiter of this.#queue.drain()) {
      if (waiter.weight > value) {
        waiter.done = true;
        waiter.cleanup?.();
        waiter.reject(new RangeError(`weight ${waiter.weight} exceeds the semaphore's ${value} permits`));
      } else {
        this.#queue.push(waiter);
      }
    }
    this.#serve();
  }

  /** Permits free right now (never negative, even after `permits` was lowered below what is held). */
  get available(): number {
    return Math.max(0, this.#permits - this.#inUse);
  }

  /** How many acquirers are waiting. */
  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Waits for `weight` permits (default 1) and resolves to a {@link Permit}. Rejects with the
   * signal's reason if `signal` aborts first (at once, without queueing, if it already has), or with
   * a {@link TimeoutError} after `timeoutMs`; either way the waiter leaves the queue.
   *
   * @example
   * ```ts
   * import { Semaphore, TimeoutError } from 'skein';
   * const semaphore = new Semaphore(1);
   * const held = await semaphore.acquire();
   * await semaphore.acquire({ timeoutMs: 10 }).catch((error) => console.log(error instanceof TimeoutError)); // true
   * held.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    if (options === undefined) {
      if (this.#queue.size === 0 && this.#inUse < this.#permits) {
        this.#inUse++;
        return Promise.resolve(new HeldPermit(this.#giveBack, 1));
      }
      return this.#wait(1, 0, undefined, undefined);
    }
    let weight = 1;
    let priority = 0;
    let signal: AbortSignal | undefined;
    let timeoutMs: number | undefined;
    if (options !== undefined) {
      assertOptions(options);
      assertKnownOptions(options, RUN_OPTIONS, 'Semaphore.acquire');
      signal = options.signal;
      assertSignal(signal);
      if (options.weight !== undefined) {
        assertInteger(options.weight, 'weight', { min: 1 });
        weight = options.weight;
      }
      timeoutMs = options.timeoutMs;
      if (timeoutMs !== undefined) {
        assertDuration(timeoutMs, 'timeoutMs', TIMEOUT_RANGE);
        if (timeoutMs === Infinity) timeoutMs = undefined;
      }
      if (options.priority !== undefined) priority = assertPriority(options.priority);
      if (weight > this.#permits) {
        throw new RangeError(`weight ${weight} exceeds the semaphore's ${this.#permits} permits`);
      }
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    }
    if (this.#queue.size === 0 && this.#permits - this.#inUse >= weight) {
      this.#inUse += weight;
      return Promise.resolve(new HeldPermit(this.#giveBack, weight));
    }
    if (timeoutMs === 0) return Promise.reject(timedOut(0));
    return this.#wait(weight, priority, signal, timeoutMs);
  }

  /** The slow path of `acquire`, apart so that the fast path allocates no closure context. */
  #wait(weight: number, priority: number, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Permit> {
    const waiter = new AcquireWaiter(weight, priority);
    const queue = this.#queue;
    const promise = new Promise<Permit>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
      queue.push(waiter);
    });
    if (signal === undefined && timeoutMs === undefined) return promise;
    const leave = (reason: unknown): void => {
      if (waiter.done) return;
      waiter.done = true;
      waiter.cleanup?.();
      const wasFront = this.#queue.peek() === waiter;
      this.#queue.leave(waiter);
      waiter.reject(reason);
      // The front waiter may have been the one blocking those behind it.
      if (wasFront) this.#serve();
    };
    const removeListener = this.#fanout.add(signal, () => leave(signal!.reason));
    if (timeoutMs === undefined) {
      waiter.cleanup = removeListener;
    } else {
      const cancelTimer = armTimer(timeoutMs, () => leave(timedOut(timeoutMs)));
      waiter.cleanup = () => {
        cancelTimer();
        removeListener();
      };
    }
    return promise;
  }

  /**
   * Rejects every waiting acquirer with `reason` (default: a `CancelledError`) and empties the queue;
   * permits already held are untouched. Returns how many waiters were rejected. What `clearQueue`
   * or `cancel` does in other lock libraries, but a waiter's rejection is a cancellation.
   *
   * @example
   * ```ts
   * import { Semaphore } from 'skein';
   * const semaphore = new Semaphore(1);
   * const held = semaphore.tryAcquire()!;
   * const waiting = semaphore.acquire();
   * console.log(semaphore.cancel()); // 1
   * await waiting.catch((error) => console.log(error.name)); // 'AbortError'
   * held.release();
   * ```
   */
  cancel(reason: unknown = new CancelledError('the semaphore cancelled its waiters')): number {
    let cancelled = 0;
    for (const waiter of this.#queue.drain()) {
      waiter.done = true;
      waiter.cleanup?.();
      waiter.reject(reason);
      cancelled++;
    }
    return cancelled;
  }

  /**
   * Takes `weight` permits (default 1) if they are free now and nobody is waiting, else returns
   * `undefined`. Never waits.
   *
   * @example
   * ```ts
   * import { Semaphore } from 'skein';
   * const semaphore = new Semaphore(1);
   * const first = semaphore.tryAcquire();
   * console.log(first !== undefined, semaphore.tryAcquire()); // true undefined
   * first?.release();
   * ```
   */
  tryAcquire(weight = 1): Permit | undefined {
    assertInteger(weight, 'weight', { min: 1 });
    if (this.#queue.size > 0 || this.#permits - this.#inUse < weight) return undefined;
    this.#inUse += weight;
    return new HeldPermit(this.#giveBack, weight);
  }

  /**
   * Acquires, runs `task(signal)`, and releases once the task has settled. `timeoutMs` covers the
   * wait and the run: if it passes while the task runs, the task's signal aborts with a
   * {@link TimeoutError}, the call rejects with it once the task settles (or its grace period ends),
   * and the permit stays held until the task really stops. Aborting `signal` works the same way.
   *
   * @example
   * ```ts
   * import { Semaphore, sleep, TimeoutError } from 'skein';
   * const semaphore = new Semaphore(1);
   * const slow = semaphore.run((signal) => sleep(1_000, { signal }), { timeoutMs: 10 });
   * await slow.catch((error) => console.log(error instanceof TimeoutError)); // true
   * console.log(semaphore.available); // 1: the task stopped, so its permit is back
   * ```
   */
  run<T>(task: Task<T>, options?: SemaphoreRunOptions): Promise<T> {
    assertFunction(task, 'task');
    assertOptions(options);
    assertKnownOptions(options, RUN_OPTIONS, 'Semaphore.run');
    validateGrace(options);
    assertSignal(options?.signal);
    if (options?.weight !== undefined) assertInteger(options.weight, 'weight', { min: 1 });
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs', TIMEOUT_RANGE);
    if (options?.priority !== undefined) assertPriority(options.priority);
    return this.#run(task, options);
  }

  async #run<T>(task: Task<T>, options: SemaphoreRunOptions | undefined): Promise<T> {
    const signal = options?.signal;
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs === undefined || timeoutMs === Infinity) {
      const permit = await this.acquire(options);
      const taskSignal = signal ?? neverAbortedSignal();
      return runHeld(task, taskSignal, signal !== undefined, 'Semaphore.run', options, () => permit.release());
    }
    // One controller carries both the caller's signal and the deadline, through the wait and the run.
    const controller = new AbortController();
    const link = linkSignal(controller, signal);
    const cancelTimer = armTimer(timeoutMs, () => controller.abort(timedOut(timeoutMs)));
    try {
      const permit = await this.acquire({ signal: controller.signal, weight: options?.weight ?? 1, priority: options?.priority ?? 0 });
      return await runHeld(task, controller.signal, true, 'Semaphore.run', options, () => permit.release());
    } finally {
      cancelTimer();
      link.unlink();
    }
  }

  #serve(): void {
    const queue = this.#queue;
    let waiter = queue.peek();
    while (waiter !== undefined && this.#permits - this.#inUse >= waiter.weight) {
      queue.shift();
      waiter.done = true;
      waiter.cleanup?.();
      this.#inUse += waiter.weight;
      waiter.resolve(new HeldPermit(this.#giveBack, waiter.weight));
      // Kept (see _servedWaiter) without the promise functions that lead to the permit and the caller.
      waiter.resolve = noop;
      waiter.reject = noop;
      waiter.cleanup = undefined;
      _servedWaiter = waiter;
      waiter = queue.peek();
    }
  }
}

function timedOut(ms: number): TimeoutError {
  return new TimeoutError(`timed out after ${ms} ms`);
}
