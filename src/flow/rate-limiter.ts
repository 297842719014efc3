/**
 * A token bucket: `limit` tokens flow in every `intervalMs`, continuously, into a bucket that holds
 * at most `burst`. Each acquire takes one token (or `weight`), waiting for it if the bucket is empty.
 * Waiters are served first-in first-out; one timer at most is pending, set for when the first waiter
 * can be served, and it is cleared as soon as nobody waits.
 */
import { validateGrace, type GraceOptions } from '../core/grace.js';
import type { Task } from '../core/task.js';
import { assertDuration, assertFunction, assertInteger, assertOptions, assertSignal } from '../core/validate.js';
import { runHeld } from './held.js';
import { WaitQueue, type AbortableWaiter } from './wait-queue.js';

/** Options for a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** How many tokens flow in per `intervalMs`: an integer >= 1. */
  readonly limit: number;
  /** The interval `limit` is measured over, in ms (> 0). */
  readonly intervalMs: number;
  /** The bucket's size: how many tokens can be spent at once after a quiet spell (default `limit`). */
  readonly burst?: number;
}

/** Options for {@link RateLimiter.acquire}. */
export interface RateAcquireOptions {
  /** Stops waiting: the promise rejects with the signal's reason and the waiter leaves the queue. */
  readonly signal?: AbortSignal;
  /** How many tokens to take (default 1); at most `burst`. */
  readonly weight?: number;
}

/** Options for {@link RateLimiter.run}. */
export interface RateRunOptions extends RateAcquireOptions, GraceOptions {}

interface TokenWaiter extends AbortableWaiter {
  readonly weight: number;
  resolve: () => void;
}

/** Token counts are fractions; this absorbs the rounding of `elapsed * limit / intervalMs`. */
const EPSILON = 1e-9;

const noop = (): void => {};

/**
 * Limits how often something happens: at most `limit` times per `intervalMs` on average, with
 * bursts of up to `burst`. The clock and timers are read through the globals when used, so fake
 * timers control it.
 *
 * @example
 * ```ts
 * import { RateLimiter } from 'skein';
 * const limiter = new RateLimiter({ limit: 100, intervalMs: 1_000, burst: 5 });
 * const started = Date.now();
 * for (let i = 0; i < 6; i++) await limiter.acquire(); // 5 at once, the 6th after ~10 ms
 * console.log(Date.now() - started >= 9); // true
 * ```
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #intervalMs: number;
  readonly #burst: number;
  #tokens: number;
  #refilledAt: number;
  readonly #queue = new WaitQueue<TokenWaiter>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleSignal: AbortSignal | undefined;

  constructor(options: RateLimiterOptions) {
    if (options === undefined) throw new TypeError('RateLimiter needs options: { limit, intervalMs }');
    assertOptions(options);
    assertInteger(options.limit, 'limit', { min: 1 });
    assertDuration(options.intervalMs, 'intervalMs');
    if (options.intervalMs === 0) throw new RangeError('intervalMs must be > 0, got 0');
    const burst = options.burst ?? options.limit;
    assertInteger(burst, 'burst', { min: 1 });
    this.#limit = options.limit;
    this.#intervalMs = options.intervalMs;
    this.#burst = burst;
    this.#tokens = burst;
    this.#refilledAt = Date.now();
  }

  /** Whole tokens available now. */
  get available(): number {
    this.#refill();
    return Math.floor(this.#tokens + EPSILON);
  }

  /** How many acquirers wait. */
  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Takes `weight` tokens (default 1), waiting first-in first-out for them to flow in. Rejects
   * with the signal's reason if `signal` aborts first, and the waiter leaves the queue.
   *
   * @example
   * ```ts
   * import { RateLimiter } from 'skein';
   * const limiter = new RateLimiter({ limit: 1, intervalMs: 60_000 });
   * await limiter.acquire(); // the one token of this minute
   * const controller = new AbortController();
   * const next = limiter.acquire({ signal: controller.signal });
   * controller.abort();
   * await next.catch((error) => console.log(error.name)); // 'AbortError'
   * ```
   */
  acquire(options?: RateAcquireOptions): Promise<void> {
    let weight = 1;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      assertOptions(options);
      signal = options.signal;
      assertSignal(signal);
      if (options.weight !== undefined) weight = this.#checkWeight(options.weight);
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    }
    if (this.#queue.size === 0) {
      this.#refill();
      if (this.#tokens + EPSILON >= weight) {
        this.#tokens -= weight;
        return Promise.resolve();
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.pushAbortable({ done: false, weight, resolve, reject, cleanup: noop }, signal, (wasFront) => {
        if (wasFront) this.#reschedule();
      });
      if (this.#timer === undefined) this.#schedule();
    });
  }

  /**
   * Takes `weight` tokens (default 1) if they are there now and nobody waits; returns whether it did.
   *
   * @example
   * ```ts
   * import { RateLimiter } from 'skein';
   * const limiter = new RateLimiter({ limit: 2, intervalMs: 1_000 });
   * console.log(limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()); // true true false
   * ```
   */
  tryAcquire(weight = 1): boolean {
    this.#checkWeight(weight);
    if (this.#queue.size > 0) return false;
    this.#refill();
    if (this.#tokens + EPSILON < weight) return false;
    this.#tokens -= weight;
    return true;
  }

  /**
   * Waits for a token, then runs `task(signal)`. Aborting `signal` while waiting rejects at once;
   * while running, the task sees it and the call rejects with its reason once the task settles.
   *
   * @example
   * ```ts
   * import { RateLimiter } from 'skein';
   * const limiter = new RateLimiter({ limit: 10, intervalMs: 100 });
   * const pages = await Promise.all([1, 2, 3].map((page) => limiter.run(async () => `page ${page}`)));
   * console.log(pages); // ['page 1', 'page 2', 'page 3']
   * ```
   */
  run<T>(task: Task<T>, options?: RateRunOptions): Promise<T> {
    assertFunction(task, 'task');
    assertOptions(options);
    validateGrace(options);
    assertSignal(options?.signal);
    if (options?.weight !== undefined) this.#checkWeight(options.weight);
    return this.acquire(options).then(() => {
      const signal = options?.signal;
      if (signal === undefined) {
        return runHeld(task, (this.#idleSignal ??= new AbortController().signal), false, 'RateLimiter.run', options, noop);
      }
      if (signal.aborted) return Promise.reject(signal.reason as unknown);
      return runHeld(task, signal, true, 'RateLimiter.run', options, noop);
    });
  }

  #checkWeight(weight: unknown): number {
    assertInteger(weight, 'weight', { min: 1 });
    if (weight > this.#burst) throw new RangeError(`weight ${weight} exceeds the bucket's burst of ${this.#burst}`);
    return weight;
  }

  #refill(): void {
    const now = Date.now();
    // A clock set backwards must not drain the bucket; it just adds nothing.
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#refilledAt = now;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#limit) / this.#intervalMs);
  }

  /** Sets the timer for when the first waiter's tokens will have flowed in. */
  #schedule(): void {
    const front = this.#queue.peek();
    if (front === undefined) return;
    this.#refill();
    const missing = front.weight - this.#tokens;
    const delayMs = Math.max(1, Math.ceil((missing * this.#intervalMs) / this.#limit - EPSILON));
    this.#timer = setTimeout(this.#onTimer, delayMs);
  }

  #reschedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refill();
    this.#serve();
    if (this.#queue.size > 0) this.#schedule();
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#refill();
    this.#serve();
    if (this.#queue.size > 0) this.#schedule();
  };

  #serve(): void {
    const queue = this.#queue;
    let front = queue.peek();
    while (front !== undefined && this.#tokens + EPSILON >= front.weight) {
      queue.shift();
      this.#tokens -= front.weight;
      front.done = true;
      front.cleanup();
      front.resolve();
      front = queue.peek();
    }
  }
}
