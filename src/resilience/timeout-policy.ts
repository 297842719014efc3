/**
 * `timeoutPolicy`: the core's {@link timeout} as a reusable {@link Policy}. At the deadline the task's
 * signal aborts with a `TimeoutError`, and the call still waits for the task to settle (within the
 * grace period) before rejecting. That wait is the point: a bulkhead or breaker probe outside it keeps
 * its slot until the work has truly stopped, where p-queue and opossum free the slot while the work
 * still runs.
 */
import { validateGrace, type GraceOptions } from '../core/grace.js';
import { timeout } from '../core/timeout.js';
import { assertDuration, assertFunction, assertOptions } from '../core/validate.js';
import { FIRST_ATTEMPT, assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyTask } from './policy.js';

/**
 * A reusable deadline; see {@link timeoutPolicy}.
 *
 * @example
 * ```ts
 * import { timeoutPolicy, type TimeoutPolicy } from 'skein';
 * const perRequest: TimeoutPolicy = timeoutPolicy(2_000);
 * console.log(perRequest.ms); // 2000
 * ```
 */
export interface TimeoutPolicy extends Policy {
  /** The deadline of each call, in ms. */
  readonly ms: number;
}

/**
 * Gives each call `ms` milliseconds. The task receives a signal linked to the caller's that also
 * aborts, with a `TimeoutError`, at the deadline; the call rejects with that `TimeoutError` once the
 * task has settled (or the grace period, `graceMs`, ran out: see `GraceOptions`). A task that settles
 * in time settles the call with its own outcome, and its timer is cleared at once.
 *
 * @example
 * ```ts
 * import { timeoutPolicy, sleep, TimeoutError } from 'skein';
 * const fiftyMs = timeoutPolicy(50);
 * console.log(await fiftyMs.execute(async () => 'fast')); // 'fast'
 * const error = await fiftyMs.execute((signal) => sleep(60_000, { signal })).catch((e: unknown) => e);
 * console.log(error instanceof TimeoutError); // true
 * ```
 */
export function timeoutPolicy(ms: number, options?: GraceOptions): TimeoutPolicy {
  assertDuration(ms, 'ms', { allowInfinity: true });
  assertOptions(options);
  validateGrace(options);
  const graceMs = options?.graceMs;
  const onStraggler = options?.onStraggler;
  return {
    ms,
    execute<T>(task: PolicyTask<T>, executeOptions?: ExecuteOptions): Promise<T> {
      assertFunction(task, 'task');
      assertExecuteOptions(executeOptions);
      const context = executeOptions?.context ?? FIRST_ATTEMPT;
      return timeout((signal) => task(signal, context), ms, { signal: executeOptions?.signal, graceMs, onStraggler });
    },
  };
}
