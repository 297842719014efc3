import { CancelledError } from './errors.js';
import { Supervisor, validateSupervisorOptions, type SupervisorOptions } from './supervisor.js';
import type { Task, TaskValue } from './task.js';
import { assertFunction, describe } from './validate.js';

/** Options for {@link race} and {@link any}. */
export type RaceOptions = SupervisorOptions;

/**
 * Runs tasks concurrently and settles like the first of them to settle, fulfilled or rejected. Unlike
 * `Promise.race`, the losers are aborted (their signal's reason is a `CancelledError`) and awaited,
 * within the grace period, before `race` settles: nothing is left running behind the winner.
 *
 * @example
 * ```ts
 * import { race, sleep } from 'skein';
 * import assert from 'node:assert/strict';
 * let slowWasCancelled = false;
 * const winner = await race([
 *   async (signal) => { await sleep(5, { signal }); return 'fast'; },
 *   async (signal) => {
 *     try { await sleep(60_000, { signal }); return 'slow'; } catch (error) { slowWasCancelled = true; throw error; }
 *   },
 * ]);
 * assert.equal(winner, 'fast');
 * assert.ok(slowWasCancelled); // the loser had stopped before race returned
 * ```
 */
export function race<const T extends readonly Task<unknown>[]>(tasks: T, options?: RaceOptions): Promise<TaskValue<T[number]>> {
  validateRace(tasks, 'race', options);
  return new Promise((resolve, reject) => {
    new Racing(tasks, false, options, resolve as (value: unknown) => void, reject);
  });
}

/**
 * Runs tasks concurrently and fulfils with the first to fulfil, like `Promise.any`; the others are
 * then aborted and awaited (within the grace period). If every task rejects, it rejects with an
 * `AggregateError` of their errors, in task order.
 *
 * @example
 * ```ts
 * import { any, sleep } from 'skein';
 * import assert from 'node:assert/strict';
 * const mirror = await any([
 *   async () => { throw new Error('mirror 1 is down'); },
 *   async (signal) => { await sleep(5, { signal }); return 'mirror 2'; },
 * ]);
 * assert.equal(mirror, 'mirror 2');
 * ```
 */
export function any<const T extends readonly Task<unknown>[]>(tasks: T, options?: RaceOptions): Promise<TaskValue<T[number]>> {
  validateRace(tasks, 'any', options);
  return new Promise((resolve, reject) => {
    new Racing(tasks, true, options, resolve as (value: unknown) => void, reject);
  });
}

function validateRace(tasks: unknown, operation: string, options: RaceOptions | undefined): void {
  if (!Array.isArray(tasks)) throw new TypeError(`${operation} needs an array of task functions, got ${describe(tasks)}`);
  if (tasks.length === 0) throw new RangeError(`${operation} needs at least one task, got an empty array`);
  for (let i = 0; i < tasks.length; i++) assertFunction(tasks[i], `tasks[${i}]`);
  validateSupervisorOptions(options, operation);
}

class Racing extends Supervisor {
  readonly #anyMode: boolean;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (reason: unknown) => void;
  #winner: { ok: boolean; value: unknown } | undefined;
  readonly #errors: unknown[];

  constructor(
    tasks: readonly Task<unknown>[],
    anyMode: boolean,
    options: RaceOptions | undefined,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    super(anyMode ? 'any' : 'race', options);
    this.#anyMode = anyMode;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#errors = new Array<unknown>(tasks.length);
    if (!this.begin(options?.signal, options?.timeout)) {
      this.finish();
      return;
    }
    for (let i = 0; i < tasks.length && !this.stopping; i++) this.startChild(tasks[i]!, i);
    this.closed = true;
    this.check();
  }

  onFulfilled(_index: number, value: unknown): void {
    if (!this.stopping) {
      this.#winner = { ok: true, value };
      this.stop(new CancelledError(`cancelled because another task won the ${this.#anyMode ? 'any' : 'race'}`));
    }
    this.check();
  }

  onRejected(index: number, error: unknown): void {
    if (!this.stopping) {
      if (this.#anyMode) {
        this.#errors[index] = error;
      } else {
        this.#winner = { ok: false, value: error };
        this.stop(new CancelledError('cancelled because another task settled the race first', { cause: error }));
      }
    }
    this.check();
  }

  complete(): void {
    if (this.#winner !== undefined) {
      if (this.#winner.ok) this.#resolve(this.#winner.value);
      else this.#reject(this.#winner.value);
    } else if (this.stopping) {
      this.#reject(this.stopReason);
    } else {
      this.#reject(new AggregateError(this.#errors, `all ${this.#errors.length} tasks of any() failed`));
    }
  }
}
