/**
 * `wrap`: compose policies outside-in. `wrap(retry, breaker, timeout).execute(task)` is
 * `retry.execute((s) => breaker.execute((s) => timeout.execute(task, s), s), s)`: each attempt of the
 * retry goes through the breaker, and each call the breaker lets through gets its own deadline. The
 * caller's signal is handed to the outermost policy, and each layer hands its inner one the signal it
 * gives its own task (the caller's, or one linked to it such as a timeout's), so an abort reaches the
 * task through every layer. A retry's attempt number reaches the task too.
 */
import { describe } from '../core/validate.js';
import { FIRST_ATTEMPT, assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyContext, type PolicyTask } from './policy.js';
import { neverAbortedSignal } from '../core/signal.js';
import { assertFunction } from '../core/validate.js';

/**
 * The stand-in type a policy may resolve with: `F` for `fallback<F>`, `never` for the others.
 *
 * @example
 * ```ts
 * import { fallback, retryPolicy, type AlternativeOf } from 'skein';
 * const orNull = fallback(null);
 * type Alt = AlternativeOf<typeof orNull>; // null
 * type None = AlternativeOf<ReturnType<typeof retryPolicy>>; // never
 * const alt: Alt = null;
 * ```
 */
export type AlternativeOf<P> = P extends { readonly '~alternative'?: () => infer Alt } ? Alt : never;

/**
 * One policy made of several, applied outside-in (the first is the outermost). Order matters: a
 * retry outside a breaker retries refusals (by default it does not: `BrokenCircuitError` is not
 * retryable); a breaker outside a retry sees one outcome per retried call; a timeout outside a retry
 * bounds all attempts together, inside it bounds each one.
 *
 * @example
 * ```ts
 * import { wrap, retryPolicy, CircuitBreaker, consecutive, timeoutPolicy, fallback, constant } from 'skein';
 * const resilient = wrap(
 *   fallback('cached answer'),
 *   retryPolicy({ maxAttempts: 3, backoff: constant(1) }),
 *   new CircuitBreaker({ policy: consecutive(5) }),
 *   timeoutPolicy(1_000),
 * );
 * const attempts: number[] = [];
 * const answer = await resilient.execute(async (_signal, { attempt }) => {
 *   attempts.push(attempt);
 *   throw new Error('down');
 * });
 * console.log(answer, attempts); // 'cached answer' [1, 2, 3]
 * ```
 */
export function wrap<const P extends readonly Policy<unknown>[]>(...policies: P): Policy<AlternativeOf<P[number]>> {
  if (policies.length === 0) throw new RangeError('wrap needs at least one policy');
  policies.forEach((policy, index) => {
    if (typeof (policy as Partial<Policy> | null | undefined)?.execute !== 'function') {
      throw new TypeError(`policy ${index} must have an execute(task, options) method, got ${describe(policy)}`);
    }
  });
  const layers: readonly Policy<unknown>[] = [...policies];
  return {
    execute<T>(task: PolicyTask<T>, options?: ExecuteOptions): Promise<T | AlternativeOf<P[number]>> {
      assertFunction(task, 'task');
      assertExecuteOptions(options);
      return runLayer(layers, 0, task, options?.signal ?? neverAbortedSignal(), options?.context ?? FIRST_ATTEMPT) as Promise<
        T | AlternativeOf<P[number]>
      >;
    },
  };
}

// A module-level function rather than a closure made per call: it costs nothing to create, and the
// only closures left per call are the one-line hand-offs between layers.
function runLayer<T>(
  layers: readonly Policy<unknown>[],
  index: number,
  task: PolicyTask<T>,
  signal: AbortSignal,
  context: PolicyContext,
): T | PromiseLike<T> | Promise<unknown> {
  if (index === layers.length) return task(signal, context);
  return layers[index]!.execute((inner, innerContext) => runLayer(layers, index + 1, task, inner, innerContext), {
    signal,
    context,
  });
}
