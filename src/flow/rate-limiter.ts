/**
 * A rate limiter with two budgets. By default a sliding window: at most `limit` tokens are spent in
 * any `intervalMs` (what an "N requests per window" API quota means), remembered as the times of the
 * last `limit` spends in a ring. With an explicit `burst`, a token bucket: `limit` tokens flow in
 * every `intervalMs`, continuously, into a bucket that holds at most `burst` (smoother, but after a
 * quiet spell up to `burst + limit` can pass in one window). Waiters are served first-in first-out;
 * one timer at most is pending, set for when the first waiter can be served (capped at 2^31-1 ms and
 * re-armed), and it is cleared as soon as nobody waits.
 */
import { validateGrace, type GraceOptions } from '../core/grace.js';
import { AbortFanout, neverAbortedSignal } from '../core/signal.js';
import type { Task } from '../core/task.js';
import {
  MAX_TIMER_MS,
  assertDuration,
  assertFunction,
  assertInteger,
  assertKnownOptions,
  assertOptions,
  assertSignal,
} from '../core/validate.js';
import { runHeld } from './held.js';
import { WaitQueue, type AbortableWaiter } from './wait-queue.js';

/** Options for a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** How many tokens flow in per `intervalMs`: an integer >= 1. */
  readonly limit: number;
  /** The interval `limit` is measured over, in ms (> 0). */
  readonly intervalMs: number;
  /**
   * Makes the limiter a token bucket of this size: how many tokens can be spent at once after a
   * quiet spell. Without it (the default) the limiter is a sliding window that never lets more than
   * `limit` through in any `intervalMs`.
   */
  readonly burst?: number;
}

const LIMITER_OPTIONS = ['limit', 'intervalMs', 'burst'] as const;

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

/** What the limiter spends: how many tokens are there now, and how long until `weight` of them are. */
interface Budget {
  /** The largest weight one acquire may take. */
  readonly capacity: number;
  available(now: number): number;
  /** Takes `weight` tokens if they are there now; returns whether it did. */
  take(weight: number, now: number): boolean;
  /** Milliseconds until `weight` tokens are there (at least 1). */
  waitMs(weight: number, now: number): number;
}

/**
 * At most `limit` spends in any window of `intervalMs`: the times of the last `limit` spends, oldest
 * first, in a ring. A spend of `weight` is allowed when the `weight` oldest of them have left the window.
 */
class SlidingWindow implements Budget {
  readonly capacity: number;
  readonly #intervalMs: number;
  readonly #spentAt: Float64Array;
  #head = 0;
  #last = -Infinity;
  #skew = 0;

  constructor(limit: number, intervalMs: number) {
    this.capacity = limit;
    this.#intervalMs = intervalMs;
    this.#spentAt = new Float64Array(limit).fill(-Infinity);
  }

  /**
   * A clock that never runs backwards: when the wall clock is set back, the jump is absorbed into a
   * skew, so the window neither reopens at once nor stays shut until the clock catches up.
   */
  #clock(now: number): number {
    let time = now + this.#skew;
    if (time < this.#last) {
      this.#skew += this.#last - time;
      time = this.#last;
    }
    this.#last = time;
    return time;
  }

  #nthOldest(n: number): number {
    return this.#spentAt[(this.#head + n) % this.capacity]!;
  }

  available(now: number): number {
    const horizon = this.#clock(now) - this.#intervalMs;
    let count = 0;
    while (count < this.capacity && this.#nthOldest(count) <= horizon) count++;
    return count;
  }

  take(weight: number, now: number): boolean {
    const at = this.#clock(now);
    if (this.#nthOldest(weight - 1) > at - this.#intervalMs) return false;
    for (let i = 0; i < weight; i++) {
      this.#spentAt[this.#head] = at;
      this.#head = (this.#head + 1) % this.capacity;
    }
    return true;
  }

  waitMs(weight: number, now: number): number {
    return Math.max(1, Math.ceil(this.#nthOldest(weight - 1) + this.#intervalMs - this.#clock(now)));
  }
}

/** `limit` tokens flow in every `intervalMs`, continuously, into a bucket of `burst`. */
class TokenBucket implements Budget {
  readonly capacity: number;
  readonly #limit: number;
  readonly #intervalMs: number;
  #tokens: number;
  #refilledAt: number;

  constructor(limit: number, intervalMs: number, burst: number, now: number) {
    this.capacity = burst;
    this.#limit = limit;
    this.#intervalMs = intervalMs;
    this.#tokens = burst;
    this.#refilledAt = now;
  }

  #refill(now: number): void {
    // A clock set backwards must not drain the bucket; it just adds nothing.
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#refilledAt = now;
    if (elapsed > 0) this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.#limit) / this.#intervalMs);
  }

  available(now: number): number {
    this.#refill(now);
    return Math.floor(this.#tokens + EPSILON);
  }

  take(weight: number, now: number): boolean {
    this.#refill(now);
    if (this.#tokens + EPSILON < weight) return false;
    this.#tokens -= weight;
    return true;
  }

  waitMs(weight: number, now: number): number {
    this.#refill(now);
    const missing = weight - this.#tokens;
    return Math.max(1, Math.ceil((missing * this.#intervalMs) / this.#limit - EPSILON));
  }
}

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
  readonly #budget: Budget;
  readonly #fanout = new AbortFanout();
  readonly #queue = new WaitQueue<TokenWaiter>(this.#fanout);
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RateLimiterOptions) {
    if (options === undefined) throw new TypeError('RateLimiter needs options: { limit, intervalMs, burst? }');
    assertOptions(options);
    assertKnownOptions(options, LIMITER_OPTIONS, 'RateLimiter');
    assertInteger(options.limit, 'limit', { min: 1 });
    assertDuration(options.intervalMs, 'intervalMs');
    if (options.intervalMs === 0) throw new RangeError('intervalMs must be > 0, got 0');
    if (options.burst === undefined) {
      this.#budget = new SlidingWindow(options.limit, options.intervalMs);
    } else {
      assertInteger(options.burst, 'burst', { min: 1 });
      this.#budget = new TokenBucket(options.limit, options.intervalMs, options.burst, Date.now());
    }
  }

  /** Whole tokens available now. */
  get available(): number {
    return this.#budget.available(Date.now());
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
    if (this.#queue.size === 0 && this.#budget.take(weight, Date.now())) return Promise.resolve();
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
    return this.#queue.size === 0 && this.#budget.take(weight, Date.now());
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
        return runHeld(task, neverAbortedSignal(), false, 'RateLimiter.run', options, noop);
      }
      if (signal.aborted) return Promise.reject(signal.reason as unknown);
      return runHeld(task, signal, true, 'RateLimiter.run', options, noop, this.#fanout);
    });
  }

  #checkWeight(weight: unknown): number {
    assertInteger(weight, 'weight', { min: 1 });
    const capacity = this.#budget.capacity;
    if (weight > capacity) throw new RangeError(`weight ${weight} exceeds the limiter's capacity of ${capacity} (its burst, or else its limit)`);
    return weight;
  }

  /** Sets the timer for when the first waiter's tokens will be there. */
  #schedule(): void {
    const front = this.#queue.peek();
    if (front === undefined) return;
    // Capped: a longer wait just fires early, finds too few tokens and sets the timer again.
    const delayMs = Math.min(MAX_TIMER_MS, this.#budget.waitMs(front.weight, Date.now()));
    this.#timer = setTimeout(this.#onTimer, delayMs);
  }

  #reschedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#serve();
    if (this.#queue.size > 0) this.#schedule();
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#serve();
    if (this.#queue.size > 0) this.#schedule();
  };

  #serve(): void {
    const queue = this.#queue;
    const now = Date.now();
    let front = queue.peek();
    while (front !== undefined && this.#budget.take(front.weight, now)) {
      queue.shift();
      front.done = true;
      front.cleanup();
      front.resolve();
      front = queue.peek();
    }
  }
}
