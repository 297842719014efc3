/**
 * Running a task while holding a slot (a permit, a queue slot): the slot is given back only when the
 * task has truly settled, never because its signal aborted. The caller's promise, though, is not held
 * hostage by a task that ignores its signal: after the grace period it rejects with the abort reason,
 * the straggler is reported, and the slot stays held until the task finally stops.
 */
import { FailFast, type GraceOptions } from '../core/grace.js';
import { onAbort, type AbortFanout } from '../core/signal.js';
import type { Task } from '../core/task.js';
import { isThenable } from '../core/task.js';

/**
 * Calls `task(signal)` and calls `release` exactly once, when it has settled; when `signal` has
 * already aborted (and `abortable` says it can), releases at once and does not call the task. The result follows the
 * task, except that once `signal` has aborted (and `abortable` says it can), the result is the
 * signal's reason: the caller asked to stop, so a late value is not reported as success.
 *
 * @example
 * ```ts
 * import { runHeld } from './held.js';
 * const value = await runHeld(() => 42, new AbortController().signal, false, 'example', undefined, () => {});
 * ```
 */
export function runHeld<T>(
  task: Task<T>,
  signal: AbortSignal,
  abortable: boolean,
  operation: string,
  grace: GraceOptions | undefined,
  release: () => void,
  fanout?: AbortFanout,
): Promise<T> {
  if (abortable && signal.aborted) {
    // The caller gave up between the grant and the call (an await lies between them): an aborted
    // signal means the task is not called at all.
    release();
    return Promise.reject(signal.reason as unknown);
  }
  let result: T | PromiseLike<T>;
  try {
    result = task(signal);
  } catch (error) {
    release();
    return Promise.reject(abortable && signal.aborted ? (signal.reason as unknown) : error);
  }
  if (!isThenable(result)) {
    release();
    return abortable && signal.aborted ? Promise.reject(signal.reason as unknown) : Promise.resolve(result);
  }
  const pending = result;
  if (!abortable) {
    return new Promise<T>((resolve, reject) => {
      pending.then(
        (value) => {
          release();
          resolve(value);
        },
        (error: unknown) => {
          release();
          reject(error);
        },
      );
    });
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let released = false;
    let failFast: FailFast | undefined;
    const abort = (): void => {
      failFast = new FailFast(operation, grace);
      failFast.stop(signal.reason, signal.reason);
      failFast.wait(
        () => 1,
        () => {
          if (settled) return;
          settled = true;
          removeListener();
          reject(signal.reason as unknown);
        },
      );
    };
    const removeListener = signal.aborted ? noop : fanout === undefined ? onAbort(signal, abort) : fanout.add(signal, abort);
    if (signal.aborted) abort();
    const finish = (ok: boolean, outcome: unknown): void => {
      if (released) return;
      released = true;
      release();
      removeListener();
      failFast?.settle();
      if (settled) return;
      settled = true;
      if (signal.aborted) reject(signal.reason as unknown);
      else if (ok) resolve(outcome as T);
      else reject(outcome);
    };
    pending.then(
      (value) => finish(true, value),
      (error: unknown) => finish(false, error),
    );
  });
}

function noop(): void {}
