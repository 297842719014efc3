/**
 * A periodic background loop that belongs to a scope: it runs one task at a time, waits after each
 * run, stops when its signal aborts, and does not return while a run is still going (within the
 * grace period), so nothing it started outlives it.
 */
import { isCancellation } from '../core/errors.js';
import { FailFast, validateGrace, type GraceOptions } from '../core/grace.js';
import { onAbort } from '../core/signal.js';
import { sleep } from '../core/sleep.js';
import type { Task } from '../core/task.js';
import { assertDuration, assertFunction, assertOptions, assertSignal, describe } from '../core/validate.js';

/** What {@link EveryOptions.onError} is told about a failed run. */
export interface EveryFailure {
  /** Which run failed, counting from 1. */
  readonly run: number;
}

/** Options for {@link every}. */
export interface EveryOptions extends GraceOptions {
  /**
   * Stops the loop: a pending wait ends at once, a run in progress receives the abort through the
   * signal it was given (the same one). Required: a loop that cannot be stopped would outlive
   * everything.
   */
  readonly signal: AbortSignal;
  /** Run once at once instead of waiting `intervalMs` first (default `false`, like `setInterval`). */
  readonly immediate?: boolean;
  /**
   * Told about each failed run; the loop then carries on. Throw from it to stop the loop: `every`
   * rejects with what it threw. By default a failure is emitted as a process warning with code
   * `SKEIN_EVERY_FAILED`. Cancellations caused by the loop's own signal are not failures.
   */
  readonly onError?: (error: unknown, failure: EveryFailure) => void;
}

/**
 * Runs `task` every `intervalMs` milliseconds until `options.signal` aborts, then resolves.
 *
 * - Runs never overlap: the next wait starts when the previous run has settled, so the period is
 *   the interval plus the run's duration (a fixed delay, not a fixed rate, so a slow run cannot pile
 *   up work).
 * - A run that fails is reported to `onError` and the loop goes on.
 * - Aborting the signal ends a wait at once; a run in progress gets the abort through its signal, and
 *   `every` resolves once it has settled, or after the grace period (`graceMs`) if it ignores the
 *   signal (the straggler is reported and its late failure absorbed).
 * - A signal already aborted resolves at once without running the task.
 *
 * Timers go through the global `setTimeout` at call time, so fake timers control the loop.
 *
 * @example
 * ```ts
 * import { every } from 'skein';
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 35);
 * let flushes = 0;
 * await every(10, async () => { flushes++; }, { signal: controller.signal, immediate: true });
 * // resolved once the signal aborted: flushes is about 3
 *
 * // In a service, the loop lives in a scope and stops with it:
 * // group.spawn((signal) => every(1_000, flush, { signal }));
 * ```
 */
export function every(intervalMs: number, task: Task<unknown>, options: EveryOptions): Promise<void> {
  assertDuration(intervalMs, 'intervalMs');
  assertFunction(task, 'task');
  assertOptions(options);
  if (options === undefined) throw new TypeError('every needs options with a signal, or it would never stop');
  const { signal, immediate = false, onError } = options;
  if (signal === undefined) throw new TypeError('every needs a signal, or it would never stop');
  assertSignal(signal);
  if (typeof immediate !== 'boolean') throw new TypeError(`immediate must be a boolean, got ${describe(immediate)}`);
  if (onError !== undefined) assertFunction(onError, 'onError');
  validateGrace(options);
  return loop(intervalMs, task, options);
}

async function loop(intervalMs: number, task: Task<unknown>, options: EveryOptions): Promise<void> {
  const { signal, immediate = false, onError } = options;
  let run = 0;
  let wait = !immediate;
  while (!signal.aborted) {
    if (wait) {
      try {
        await sleep(intervalMs, { signal });
      } catch {
        // Only an abort ends a sleep early.
        return;
      }
    }
    wait = true;
    run++;
    const error = await runOnce(task, signal, options);
    if (error !== undefined) report(error.value, run, onError);
  }
}

/** Runs `task` once; resolves with its failure (boxed, so `undefined` can be an error), if any. */
async function runOnce(
  task: Task<unknown>,
  signal: AbortSignal,
  options: EveryOptions,
): Promise<{ value: unknown } | undefined> {
  let outcome: Promise<unknown>;
  try {
    outcome = Promise.resolve(task(signal));
  } catch (error) {
    outcome = Promise.reject(error);
  }
  const settled = outcome.then(
    () => undefined,
    (error: unknown) => (signal.aborted && (error === signal.reason || isCancellation(error)) ? undefined : { value: error }),
  );
  if (signal.aborted) return graced(settled, signal, options);
  let removeListener = (): void => {};
  const aborted = new Promise<'aborted'>((resolve) => {
    removeListener = onAbort(signal, () => resolve('aborted'));
  });
  const first = await Promise.race([settled, aborted]);
  removeListener();
  return first === 'aborted' ? graced(settled, signal, options) : first;
}

/** Waits for an aborted run to settle, at most the grace period; a straggler is reported. */
function graced(
  settled: Promise<{ value: unknown } | undefined>,
  signal: AbortSignal,
  options: EveryOptions,
): Promise<{ value: unknown } | undefined> {
  const failFast = new FailFast('every', options);
  failFast.stop(signal.reason, signal.reason);
  return new Promise((resolve) => {
    failFast.wait(
      () => 1,
      () => resolve(undefined),
    );
    void settled.then((outcome) => {
      failFast.settle();
      resolve(outcome);
    });
  });
}

function report(error: unknown, run: number, onError: EveryOptions['onError']): void {
  if (onError !== undefined) {
    // A throw here stops the loop: every() rejects with it.
    onError(error, { run });
    return;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  globalThis.process?.emitWarning?.(`skein: every() run ${run} failed: ${detail}`, {
    type: 'SkeinEveryWarning',
    code: 'SKEIN_EVERY_FAILED',
  });
}
