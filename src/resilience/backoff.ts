/**
 * Backoff strategies are plain values: any re-iterable sequence of delays in milliseconds. The n-th
 * value is the wait before the (n + 2)-th attempt (the first attempt never waits). An array is a
 * backoff (`[100, 1_000, 10_000]`: three retries, then stop); so is {@link constant} and
 * {@link exponential}, and so is anything you build from them with a generator:
 *
 * ```ts no-run
 * const warmThenExponential: Backoff = {
 *   *[Symbol.iterator]() { yield 0; yield* exponential({ initialMs: 50 }); },
 * };
 * ```
 *
 * Each `retry` call (each breaker opening streak) asks for a fresh iterator, so one value serves any
 * number of calls and tests can inspect the delays by iterating, without waiting for any of them.
 * When the sequence ends, retrying stops.
 */
import { MAX_TIMER_MS, describe } from '../core/validate.js';
import { assertDuration, assertInteger } from '../core/validate.js';

/**
 * A re-iterable sequence of delays in ms. See the module comment above for the contract.
 *
 * @example
 * ```ts
 * import { retry, type Backoff } from 'skein';
 * const escalating: Backoff = [10, 100, 1_000]; // three retries, then give up
 * await retry(() => 'ok', { backoff: escalating, maxAttempts: Infinity });
 * ```
 */
export type Backoff = Iterable<number>;

/**
 * The same delay every time, `count` times (default: forever).
 *
 * @example
 * ```ts
 * import { constant, firstDelays } from 'skein';
 * console.log(firstDelays(constant(250), 3)); // [250, 250, 250]
 * console.log([...constant(100, { count: 2 })]); // [100, 100]
 * ```
 */
export function constant(ms: number, options?: { readonly count?: number }): Backoff {
  assertDuration(ms, 'ms');
  const count = options?.count ?? Infinity;
  assertInteger(count, 'count', { min: 0, allowInfinity: true });
  return {
    *[Symbol.iterator]() {
      for (let i = 0; i < count; i++) yield ms;
    },
  };
}

/**
 * The first `count` delays of a backoff, as an array: a way to see what a strategy will do.
 *
 * @example
 * ```ts
 * import { exponential, firstDelays } from 'skein';
 * console.log(firstDelays(exponential({ initialMs: 100, jitter: 'none' }), 4)); // [100, 200, 400, 800]
 * ```
 */
export function firstDelays(backoff: Backoff, count: number): number[] {
  assertBackoff(backoff, 'backoff');
  assertInteger(count, 'count');
  const delays: number[] = [];
  if (count === 0) return delays;
  for (const delay of backoff) {
    delays.push(delay);
    if (delays.length === count) break;
  }
  return delays;
}

/**
 * Checks that `value` is iterable. With `reusable`, also rejects a one-shot iterator (a generator
 * object, say): a policy or a breaker iterates its backoff once per call, and a spent iterator would
 * silently stop every call after the first from retrying.
 */
export function assertBackoff(value: unknown, name: string, { reusable = false } = {}): asserts value is Backoff {
  const iterate = (value as { [Symbol.iterator]?: unknown } | null | undefined)?.[Symbol.iterator];
  if (typeof iterate !== 'function' || typeof value === 'string') {
    throw new TypeError(`${name} must be an iterable of delays in ms (an array, constant() or exponential()), got ${describe(value)}`);
  }
  if (reusable && (iterate as () => unknown).call(value) === value) {
    throw new TypeError(
      `${name} must be re-iterable (an array, constant(), exponential() or an object with a [Symbol.iterator]() method), ` +
        'got a one-shot iterator such as a generator object, which would be spent after the first call',
    );
  }
}

/** Reads the next delay, checking it is one a timer can wait. */
export function nextDelay(iterator: Iterator<number>, name: string): number | undefined {
  const step = iterator.next();
  if (step.done === true) return undefined;
  const delay = step.value;
  if (typeof delay !== 'number' || !(delay >= 0) || delay > MAX_TIMER_MS) {
    throw new RangeError(`${name} yielded ${describe(delay)}; a delay must be a number of ms from 0 to ${MAX_TIMER_MS}`);
  }
  return delay;
}
