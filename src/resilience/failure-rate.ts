/**
 * `failureRate`: open the breaker when the share of failed calls over a rolling time window reaches a
 * threshold. The window is a ring of `buckets` counters, each covering `windowMs / buckets`; running
 * totals are kept, so recording a call is O(1): it moves the ring forward by the buckets that expired
 * since the last call (at most `buckets` steps, whatever the gap) and bumps two numbers. The price is
 * a granularity of one bucket: a call drops out of the window between `windowMs - windowMs / buckets`
 * and `windowMs` after it was made. No timer is kept: the ring advances when it is used.
 */
import { assertDuration, assertInteger, assertOptions, describe } from '../core/validate.js';
import type { BreakerPolicy, BreakerTracker } from './breaker-policy.js';

/**
 * Options for {@link failureRate}.
 *
 * @example
 * ```ts
 * import { failureRate, type FailureRateOptions } from 'skein';
 * const options: FailureRateOptions = { threshold: 0.25, minCalls: 50, windowMs: 60_000, buckets: 12 };
 * const policy = failureRate(options);
 * ```
 */
export interface FailureRateOptions {
  /** The failed share of calls, in (0, 1], at which the breaker opens: 0.5 = half of them. */
  readonly threshold: number;
  /** Fewer calls than this in the window never open the breaker, whatever their outcome. Default 10. */
  readonly minCalls?: number;
  /** The rolling window, in ms. Default 10 000. */
  readonly windowMs?: number;
  /** How many buckets the window is cut into: more is finer and costs memory, not time. Default 10. */
  readonly buckets?: number;
}

/**
 * Opens the breaker when, over the last `windowMs`, at least `minCalls` calls were made and the
 * share that failed is `threshold` or more. Suits a busy dependency that fails partly (one bad
 * replica of five) better than {@link consecutive}, which interleaved successes keep resetting.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, failureRate } from 'skein';
 * const breaker = new CircuitBreaker({
 *   policy: failureRate({ threshold: 0.5, minCalls: 4, windowMs: 60_000 }),
 *   openMs: 5_000,
 * });
 * for (const ok of [true, false, true, false]) {
 *   await breaker.execute(() => { if (!ok) throw new Error('bad replica'); }).catch(() => {});
 * }
 * console.log(breaker.state, breaker.stats.recentFailures); // 'open' 0 (the window restarts when it opens)
 * ```
 */
export function failureRate(options: FailureRateOptions): BreakerPolicy {
  assertOptions(options);
  if (options === undefined) throw new TypeError('failureRate needs options: { threshold, minCalls?, windowMs?, buckets? }');
  const { threshold, minCalls = 10, windowMs = 10_000, buckets = 10 } = options;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) {
    throw new RangeError(`threshold must be a number in (0, 1], got ${describe(threshold)}`);
  }
  assertInteger(minCalls, 'minCalls', { min: 1 });
  assertDuration(windowMs, 'windowMs');
  if (windowMs === 0) throw new RangeError('windowMs must be > 0, got 0');
  assertInteger(buckets, 'buckets', { min: 1, max: 1_000 });
  return { create: () => new FailureRateTracker(threshold, minCalls, windowMs / buckets, buckets) };
}

class FailureRateTracker implements BreakerTracker {
  readonly #threshold: number;
  readonly #minCalls: number;
  readonly #bucketMs: number;
  readonly #callsIn: Float64Array;
  readonly #failuresIn: Float64Array;
  /** The ring slot of the newest bucket. */
  #head = 0;
  /** `floor(time / bucketMs)` of the newest bucket. */
  #headEpoch = -Infinity;
  #calls = 0;
  #failures = 0;

  constructor(threshold: number, minCalls: number, bucketMs: number, buckets: number) {
    this.#threshold = threshold;
    this.#minCalls = minCalls;
    this.#bucketMs = bucketMs;
    this.#callsIn = new Float64Array(buckets);
    this.#failuresIn = new Float64Array(buckets);
  }

  get calls(): number {
    this.#advance();
    return this.#calls;
  }

  get failures(): number {
    this.#advance();
    return this.#failures;
  }

  success(): void {
    this.#advance();
    this.#callsIn[this.#head]!++;
    this.#calls++;
  }

  failure(): boolean {
    this.#advance();
    this.#callsIn[this.#head]!++;
    this.#failuresIn[this.#head]!++;
    this.#calls++;
    this.#failures++;
    return this.#calls >= this.#minCalls && this.#failures / this.#calls >= this.#threshold;
  }

  reset(): void {
    this.#callsIn.fill(0);
    this.#failuresIn.fill(0);
    this.#calls = 0;
    this.#failures = 0;
  }

  /** Expires the buckets that fell out of the window since the last call. */
  #advance(): void {
    const epoch = Math.floor(Date.now() / this.#bucketMs);
    // A clock that went back (a wall-clock adjustment) keeps counting into the newest bucket.
    if (epoch <= this.#headEpoch) return;
    const size = this.#callsIn.length;
    const steps = Math.min(epoch - this.#headEpoch, size);
    for (let i = 0; i < steps; i++) {
      this.#head = this.#head + 1 === size ? 0 : this.#head + 1;
      this.#calls -= this.#callsIn[this.#head]!;
      this.#failures -= this.#failuresIn[this.#head]!;
      this.#callsIn[this.#head] = 0;
      this.#failuresIn[this.#head] = 0;
    }
    this.#headEpoch = epoch;
  }
}
