/**
 * What decides when a {@link CircuitBreaker} opens. A policy is a description (`consecutive(5)`,
 * `failureRate({ ... })`); each breaker asks it for a tracker of its own, so one policy value can
 * configure any number of breakers without them sharing counts. Write your own by implementing
 * {@link BreakerPolicy}.
 */

/**
 * The per-breaker state of a {@link BreakerPolicy}. The breaker calls it only while closed.
 *
 * @example
 * ```ts
 * import { consecutive, type BreakerTracker } from 'skein';
 * const tracker: BreakerTracker = consecutive(2).create();
 * console.log(tracker.failure(), tracker.failure(), tracker.failures); // false true 2
 * ```
 */
export interface BreakerTracker {
  /** A call counted as a success. */
  success(): void;
  /** A call counted as a failure. Returns true when the breaker should open. */
  failure(): boolean;
  /** Forgets every call: the breaker has just opened or closed. */
  reset(): void;
  /** How many calls the policy is weighing right now (>= 0). */
  readonly calls: number;
  /** How many of those failed (>= 0, <= `calls`). */
  readonly failures: number;
}

/**
 * A breaking policy: a factory of trackers.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, type BreakerPolicy } from 'skein';
 * // Opens after `n` failures in all, however many successes came between.
 * const totalFailures = (n: number): BreakerPolicy => ({
 *   create() {
 *     let failures = 0;
 *     let calls = 0;
 *     return {
 *       success: () => { calls++; },
 *       failure: () => { calls++; return ++failures >= n; },
 *       reset: () => { failures = 0; calls = 0; },
 *       get calls() { return calls; },
 *       get failures() { return failures; },
 *     };
 *   },
 * });
 * const breaker = new CircuitBreaker({ policy: totalFailures(2), openMs: 1_000 });
 * for (let i = 0; i < 2; i++) await breaker.execute(() => { throw new Error('x'); }).catch(() => {});
 * console.log(breaker.state); // 'open'
 * ```
 */
export interface BreakerPolicy {
  create(): BreakerTracker;
}
