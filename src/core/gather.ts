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
  /** Fail-fast mode: what the tasks returned, awaited by one Promise.all (see #startAll). */
  #started: unknown[] | undefined = undefined;

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
    this.#results = this.#settle ? new Array<unknown>(count).fill(NOT_SETTLED) : NO_RESULTS;
    if (!this.begin(options?.signal, options?.timeout)) {
      this.finish();
      return;
    }
    if (this.#settle) {
      for (let i = 0; i < count && !this.stopping; i++) this.startChild(fns[i]!, i);
    } else {
      this.#startAll(fns);
    }
    this.closed = true;
    this.check();
    // V8 keeps the hidden classes an object's fields lead to only while some object has them: after
    // a full GC that left no Gathering alive, the next one gets new classes, and the code optimised
    // for the old ones (startChild, onFulfilled, check, the callbacks) is thrown away and optimised
    // again ("weak objects" deopts), which made the first gather after a GC 3 to 7 times slower
    // than one before it. The last Gathering stays referenced (without its results) so they live.
    keepShape(this);
  }

  /**
   * Fail-fast mode. The tasks' results go to one `Promise.all`, which V8 runs with neither a closure
   * nor a derived promise per task: a gather that succeeds costs what `Promise.all` costs, plus the
   * supervision set up once. Only once a task fails, or the children were told to stop while they
   * ran, does each task get handlers of its own (#watchEach), to wait until every one has settled.
   * `pending` counts the tasks started and not known to have settled, as with startChild.
   */
  #startAll(fns: readonly Task<unknown>[]): void {
    const signal = this.controller.signal;
    const count = fns.length;
    const started = new Array<unknown>(count);
    for (let i = 0; i < count; i++) {
      if (this.stopping) {
        // A task aborted the caller's signal (or the deadline passed) while they were being started.
        started.length = i;
        this.#watchEach(started);
        return;
      }
      this.pending++;
      try {
        started[i] = fns[i]!(signal);
      } catch (error) {
        // Thrown synchronously: the first failure. No further task starts; the started ones are awaited.
        this.pending--;
        started.length = i;
        this.#watchEach(started);
        this.onRejected(i, error);
        return;
      }
    }
    if (count === 0) return;
    this.#started = started;
    Promise.all(started).then(
      (values) => {
        if (this.finished || this.#started === undefined) return;
        this.#started = undefined;
        this.pending = 0;
        this.#results = values;
        this.check();
      },
      (error: unknown) => {
        if (this.finished || this.#started === undefined) return;
        const all = this.#started;
        this.#started = undefined;
        // The first failure, unless the children were already told to stop (then it is one of theirs).
        if (!this.stopping) this.onRejected(-1, error);
        this.#watchEach(all);
      },
    );
  }

  /**
   * Fail-fast mode, once something went wrong: every started task gets handlers of its own, so that
   * gather learns when each has settled (a task that already settled calls them at once) and keeps
   * their genuine errors. The first failure, already reported, is recognised and skipped by onRejected.
   */
  #watchEach(started: readonly unknown[]): void {
    const settledOne = (): void => {
      this.pending--;
      this.check();
    };
    const failedOne = (error: unknown): void => {
      this.pending--;
      this.onRejected(-1, error);
    };
    for (const value of started) Promise.resolve(value).then(settledOne, failedOne);
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

