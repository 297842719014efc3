/**
 * `retryPolicy`: {@link retry} as a reusable {@link Policy}, validated once and composable with
 * {@link wrap}. Its options are retry's, minus the signal, which each `execute` call brings.
 */
import { assertFunction } from '../core/validate.js';
import { neverAbortedSignal } from '../core/signal.js';
import { assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyTask } from './policy.js';
import { assertRetryOptions, runRetry, type RetryPolicyOptions } from './retry.js';

/**
 * A reusable retry; see {@link retryPolicy}.
 *
 * @example
 * ```ts
 * import { retryPolicy, type RetryPolicy } from 'skein';
 * const policy: RetryPolicy = retryPolicy({ maxAttempts: 4 });
 * console.log(policy.options.maxAttempts); // 4
 * ```
 */
export interface RetryPolicy extends Policy {
  /** The options it was made with. */
  readonly options: Readonly<RetryPolicyOptions>;
}

/**
 * A reusable retry policy. `execute(task, { signal })` behaves as `retry(task, { ...options, signal })`;
 * the task receives `(signal, { attempt })`. The backoff must be re-iterable (an array, `constant()`,
 * `exponential()`), since every call walks it from the start.
 *
 * @example
 * ```ts
 * import { retryPolicy, constant } from 'skein';
 * const twice = retryPolicy({ maxAttempts: 2, backoff: constant(1) });
 * let calls = 0;
 * const result = await twice.execute(() => {
 *   if (++calls === 1) throw new Error('flaky');
 *   return calls;
 * });
 * console.log(result); // 2
 * ```
 */
export function retryPolicy(options?: RetryPolicyOptions): RetryPolicy {
  assertRetryOptions(options, true);
  if (options !== undefined && 'signal' in options) {
    throw new TypeError('retryPolicy options take no signal: pass it to each execute(task, { signal }) call');
  }
  const frozen: Readonly<RetryPolicyOptions> = Object.freeze({ ...options });
  return {
    options: frozen,
    execute<T>(task: PolicyTask<T>, executeOptions?: ExecuteOptions): Promise<T> {
      assertFunction(task, 'task');
      assertExecuteOptions(executeOptions);
      return runRetry(task, executeOptions?.signal ?? neverAbortedSignal(), frozen);
    },
  };
}
