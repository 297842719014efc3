/**
 * `bulkhead`: a concurrency limit with a bounded waiting line, as a {@link Policy}, after the
 * watertight compartments of a ship: one flooded dependency cannot take every connection, socket
 * or worker with it. Built on flow's `Semaphore`, so its waits are abortable and first-in first-out,
 * and a slot is held until the task has truly settled: a `timeoutPolicy` inside the bulkhead aborts
 * the task, but the slot stays taken until the task has stopped.
 */
import { validateGrace, type GraceOptions } from '../core/grace.js';
import { assertFunction, assertInteger, assertKnownOptions, assertOptions } from '../core/validate.js';
import { Semaphore } from '../flow/semaphore.js';
import { QueueFullError } from '../flow/task-queue.js';
import { neverAbortedSignal } from '../core/signal.js';
import { FIRST_ATTEMPT, assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyTask } from './policy.js';

const BULKHEAD_OPTIONS = ['limit', 'queue', 'graceMs', 'onStraggler'];

/**
 * Options for {@link bulkhead}. The grace options apply when a caller aborts a running call: after
 * `graceMs` the call rejects with the abort reason even if the task ignores it, and the slot stays
 * held until the task finally stops (as in flow's `Semaphore.run`).
 *
 * @example
 * ```ts
 * import { bulkhead, type BulkheadOptions } from 'skein';
 * const options: BulkheadOptions = { limit: 10, queue: 100, graceMs: 5_000 };
 * const database = bulkhead(options);
 * ```
 */
export interface BulkheadOptions extends GraceOptions {
  /** How many calls may run at once: an integer >= 1. */
  readonly limit: number;
  /** How many calls may wait for a slot: an integer >= 0 or `Infinity`. Default 0: refuse at once when full. */
  readonly queue?: number;
}

/**
 * A concurrency limit; see {@link bulkhead}.
 *
 * @example
 * ```ts
 * import { bulkhead, type Bulkhead } from 'skein';
 * const pool: Bulkhead = bulkhead({ limit: 4, queue: 8 });
 * console.log(pool.running, pool.queued); // 0 0
 * ```
 */
export interface Bulkhead extends Policy {
  /** How many calls may run at once. */
  readonly limit: number;
  /** How many calls may wait. */
  readonly queue: number;
  /** Calls running now (holding a slot). */
  readonly running: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
}

/**
 * At most `limit` calls run at once and at most `queue` wait; a call that finds both full is refused
 * at once with flow's `QueueFullError` and its task is not called. A waiting call whose signal aborts
 * leaves the line at once, rejecting with the signal's reason. The task receives the caller's signal.
 *
 * @example
 * ```ts
 * import { bulkhead, QueueFullError, sleep } from 'skein';
 * const pool = bulkhead({ limit: 2, queue: 1 });
 * const calls = [1, 2, 3, 4].map((id) => pool.execute(async (signal) => { await sleep(5, { signal }); return id; }));
 * const outcomes = await Promise.allSettled(calls);
 * console.log(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : o.reason instanceof QueueFullError)));
 * // [1, 2, 3, true]: two ran, one waited, the fourth was refused
 * ```
 */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  assertOptions(options);
  if (options === undefined) throw new TypeError('bulkhead needs options: { limit, queue? }');
  assertKnownOptions(options, BULKHEAD_OPTIONS, 'bulkhead');
  const { limit, queue = 0, graceMs, onStraggler } = options;
  assertInteger(limit, 'limit', { min: 1 });
  assertInteger(queue, 'queue', { min: 0, allowInfinity: true });
  validateGrace(options);
  const semaphore = new Semaphore(limit);
  return {
    limit,
    queue,
    get running(): number {
      return limit - semaphore.available;
    },
    get queued(): number {
      return semaphore.waiting;
    },
    execute<T>(task: PolicyTask<T>, executeOptions?: ExecuteOptions): Promise<T> {
      assertFunction(task, 'task');
      assertExecuteOptions(executeOptions);
      const signal = executeOptions?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
      const runsNow = semaphore.waiting === 0 && semaphore.available > 0;
      if (!runsNow && semaphore.waiting >= queue) {
        return Promise.reject(
          new QueueFullError(`the bulkhead is full: ${limit} call(s) running and ${semaphore.waiting} waiting (queue ${queue})`),
        );
      }
      const context = executeOptions?.context ?? FIRST_ATTEMPT;
      return semaphore.run((taskSignal) => task(taskSignal, context), {
        signal: signal === neverAbortedSignal() ? undefined : signal,
        graceMs,
        onStraggler,
      });
    },
  };
}
