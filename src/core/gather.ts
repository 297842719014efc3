import { CancelledError, isCancellation, setSuppressedErrors } from './errors.js';
import { SUPERVISOR_OPTIONS, Supervisor, validateSupervisorOptions, type SupervisorOptions } from './supervisor.js';
import type { Task, TaskValue } from './task.js';
import { assertFunction, describe } from './validate.js';

const GATHER_OPTIONS = [...SUPERVISOR_OPTIONS, 'settle'];

/** What `gather` accepts: an array or tuple of tasks, or a record of them. */
export type GatherTasks = readonly Task<unknown>[] | { readonly [key: string]: Task<unknown> };

/** `gather`'s result: each task's value, at the task's position or under its key. */
export type GatherResult<T extends GatherTasks> = { -readonly [K in keyof T]: TaskValue<T[K]> };

/** `gather`'s result in settle mode: a `PromiseSettledResult` per task, at its position or key. */
export type GatherSettledResult<T extends GatherTasks> = {
  -readonly [K in keyof T]: PromiseSettledResult<TaskValue<T[K]>>;
};

/** Options for {@link gather}. */
export interface GatherOptions extends SupervisorOptions {
  /**
   * `false` (default): fail fast. The first failure aborts the other tasks, `gather` waits for them to
   * settle (within the grace period) and rejects with that failure.
   * `true`: never reject for a task's failure; resolve with a settled entry per task.
   */
  readonly settle?: boolean;
}

/**
 * Runs tasks concurrently and waits for all of them: `Promise.all` that can cancel.
 *
 * Each task receives the same `AbortSignal`. In the default fail-fast mode the first failure (a
 * rejection or a synchronous throw) aborts the signal with a `CancelledError` whose `cause` is that
 * failure; `gather` then waits for the other tasks to settle (at most `graceMs`, default 2 s, after
 * which the stragglers are reported) and rejects with the first failure. Other genuine failures are
 * kept: `suppressedErrors(error)` returns them. With `settle: true` it resolves with a
 * `PromiseSettledResult` per task instead.
 *
 * `timeout` aborts unfinished tasks with a `TimeoutError`: fail-fast mode rejects with it; settle mode
 * returns the finished values and a rejected entry with the `TimeoutError` for each task that had not
 * finished. Aborting `signal` aborts every task and rejects with the signal's reason (in both modes);
 * if it is already aborted, no task is called.
 *
 * Tasks may be an array or tuple (result types inferred per position) or a record (the result is a
 * record with the same keys).
 *
 * @example
 * ```ts
 * import { gather, sleep } from 'skein';
 * import assert from 'node:assert/strict';
 * const [user, count] = await gather([
 *   async (signal) => { await sleep(5, { signal }); return { name: 'ada' }; },
 *   async () => 42,
 * ]);
 * assert.equal(user.name, 'ada');
 * assert.equal(count, 42);
 *
 * const { a, b } = await gather({ a: async () => 1, b: async () => 'two' });
 * assert.deepEqual([a, b], [1, 'two']);
 *
 * const settled = await gather([async () => 1, async () => { throw new Error('no'); }], { settle: true });
 * assert.equal(settled[1].status, 'rejected');
 * ```
 */
export function gather<const T extends GatherTasks>(
  tasks: T,
  options: GatherOptions & { readonly settle: true },
): Promise<GatherSettledResult<T>>;
export function gather<const T extends GatherTasks>(
  tasks: T,
  options?: GatherOptions & { readonly settle?: false },
): Promise<GatherResult<T>>;
export function gather<const T extends GatherTasks>(tasks: T, options?: GatherOptions): Promise<unknown>;
export function gather(tasks: GatherTasks, options?: GatherOptions): Promise<unknown> {
  let fns: readonly Task<unknown>[];
  let keys: string[] | undefined;
  if (Array.isArray(tasks)) {
    fns = tasks as readonly Task<unknown>[];
    for (let i = 0; i < fns.length; i++) assertFunction(fns[i], `tasks[${i}]`);
  } else if (tasks !== null && typeof tasks === 'object') {
    keys = Object.keys(tasks);
    const record = tasks as { readonly [key: string]: Task<unknown> };
    fns = keys.map((key) => {
      assertFunction(record[key], `tasks.${key}`);
      return record[key];
    });
  } else {
    throw new TypeError(`tasks must be an array or a record of task functions, got ${describe(tasks)}`);
  }
  validateSupervisorOptions(options, 'gather', GATHER_OPTIONS);
  if (options?.settle !== undefined && typeof options.settle !== 'boolean') {
    throw new TypeError(`settle must be a boolean, got ${describe(options.settle)}`);
  }
  return new Promise((resolve, reject) => {
    new Gathering(fns, keys, options, resolve, reject);
  });
}

const NOT_SETTLED: unique symbol = Symbol('not settled');
/** What a finished Gathering holds instead of its results (made as the results arrays are, for one hidden class). */
const NO_RESULTS: unknown[] = new Array<unknown>(0).fill(NOT_SETTLED);
/** See the end of the Gathering constructor. */
let _lastGathering: Gathering | undefined;
const settled = (): void => {};
function keepShape(gathering: Gathering): void {
  _lastGathering = gathering;
}

class Gathering extends Supervisor {
  readonly #keys: string[] | undefined;
  readonly #settle: boolean;
  #resolve: (value: unknown) => void;
  #reject: (reason: unknown) => void;
  /** Values, or settled entries in settle mode. `NOT_SETTLED` marks tasks still running. */
  #results: unknown[];
  #firstError: unknown = undefined;
  #failed = false;
  #others: unknown[] | undefined;

  constructor(
    fns: readonly Task<unknown>[],
    keys: string[] | undefined,
    options: GatherOptions | undefined,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    super('gather', options);
    this.#keys = keys;
    this.#settle = options?.settle === true;
    this.#resolve = resolve;
    this.#reject = reject;
    const count = fns.length;
    this.#results = new Array<unknown>(count).fill(NOT_SETTLED);
    if (!this.#settle) this.shareRejectionHandler();
    if (!this.begin(options?.signal, options?.timeout)) {
      this.finish();
      return;
    }
    for (let i = 0; i < count && !this.stopping; i++) this.startChild(fns[i]!, i);
    this.closed = true;
    this.check();
    // V8 keeps the hidden classes an object's fields lead to only while some object has them: after
    // a full GC that left no Gathering alive, the next one gets new classes, and the code optimised
    // for the old ones (startChild, onFulfilled, check, the callbacks) is thrown away and optimised
    // again ("weak objects" deopts), which made the first gather after a GC 3 to 7 times slower
    // than one before it. The last Gathering stays referenced (without its results) so they live.
    keepShape(this);
  }

  onFulfilled(index: number, value: unknown): void {
    if (this.finished) return;
    if (this.#settle) {
      this.#results[index] = this.timedOut ? { status: 'rejected', reason: this.stopReason } : { status: 'fulfilled', value };
    } else {
      this.#results[index] = value;
    }
    this.check();
  }

  onRejected(index: number, error: unknown): void {
    if (this.finished) return;
    if (this.#settle) {
      this.#results[index] = { status: 'rejected', reason: this.timedOut ? this.stopReason : error };
    } else if (!this.stopping) {
      this.#failed = true;
      this.#firstError = error;
      this.stop(new CancelledError('cancelled because a sibling task failed', { cause: error }));
    } else if (error !== this.stopReason && error !== this.#firstError && !isCancellation(error)) {
      (this.#others ??= []).push(error);
    }
    this.check();
  }

  complete(): void {
    if (this.#failed) {
      if (this.#others !== undefined) setSuppressedErrors(this.#firstError, this.#others);
      this.#reject(this.#firstError);
    } else if (this.cancelledByCaller || (this.timedOut && !this.#settle)) {
      this.#reject(this.stopReason);
    } else {
      const results = this.#results;
      if (this.#settle) {
        // Tasks the deadline cut off (or stragglers past the grace period) get the stop reason.
        for (let i = 0; i < results.length; i++) {
          if (results[i] === NOT_SETTLED) results[i] = { status: 'rejected', reason: this.stopReason };
        }
      }
      this.#resolve(this.#keys === undefined ? results : toRecord(this.#keys, results));
    }
    // Kept as `_lastGathering`, it must not keep what it delivered alive (nor, through the settled
    // promise its resolve function holds, the results).
    this.#resolve = settled;
    this.#reject = settled;
    this.#results = NO_RESULTS;
    this.#firstError = undefined;
    this.#others = undefined;
  }
}

function toRecord(keys: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) record[keys[i]!] = values[i];
  return record;
}

