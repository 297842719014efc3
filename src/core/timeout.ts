import { Supervisor, validateSupervisorOptions } from './supervisor.js';
import type { GraceOptions } from './grace.js';
import type { Task } from './task.js';
import { assertDuration, assertFunction } from './validate.js';

const TIMEOUT_OPTIONS = ['signal', 'graceMs', 'onStraggler'];

/** Options for {@link timeout}. */
export interface TimeoutOptions extends GraceOptions {
  /** The caller's cancellation: aborts the task and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Runs `task` with a deadline `ms` milliseconds from now. At the deadline the task's signal aborts
 * with a `TimeoutError`; `timeout` waits for the task to settle (within the grace period, default
 * 2 s) and rejects with that `TimeoutError`. The timer is cleared as soon as the task settles, so a
 * fast task leaves nothing behind. A task that settles before the deadline settles `timeout` with its
 * own outcome. Nested `timeout`s and scopes see the earliest deadline.
 *
 * @example
 * ```ts
 * import { timeout, sleep, TimeoutError } from 'skein';
 * import assert from 'node:assert/strict';
 * assert.equal(await timeout(async () => 'fast', 1_000), 'fast');
 * const error = await timeout((signal) => sleep(60_000, { signal }), 10).catch((e: unknown) => e);
 * assert.ok(error instanceof TimeoutError);
 * ```
 */
export function timeout<T>(task: Task<T>, ms: number, options?: TimeoutOptions): Promise<T> {
  assertFunction(task, 'task');
  assertDuration(ms, 'ms', { allowInfinity: true });
  validateSupervisorOptions(options, 'timeout', TIMEOUT_OPTIONS);
  return new Promise<T>((resolve, reject) => {
    new TimedRun(task, ms, options, resolve as (value: unknown) => void, reject);
  });
}

class TimedRun extends Supervisor {
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (reason: unknown) => void;
  #outcome: { ok: boolean; value: unknown } | undefined;

  constructor(
    task: Task<unknown>,
    ms: number,
    options: TimeoutOptions | undefined,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    super('timeout', options);
    this.#resolve = resolve;
    this.#reject = reject;
    if (!this.begin(options?.signal, ms)) {
      this.finish();
      return;
    }
    this.startChild(task, 0);
    this.closed = true;
    this.check();
  }

  onFulfilled(_index: number, value: unknown): void {
    this.#outcome ??= { ok: true, value };
    this.check();
  }

  onRejected(_index: number, error: unknown): void {
    this.#outcome ??= { ok: false, value: error };
    this.check();
  }

  complete(): void {
    // Once the deadline passed or the caller aborted, that is the outcome, whatever the task did next.
    if (this.stopping) this.#reject(this.stopReason);
    else if (this.#outcome!.ok) this.#resolve(this.#outcome!.value);
    else this.#reject(this.#outcome!.value);
  }
}
