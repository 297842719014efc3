import { CancelledError, isCancellation, ScopeClosedError } from './errors.js';
import { SUPERVISOR_OPTIONS, Supervisor, validateDeadline, validateSupervisorOptions, type SupervisorOptions } from './supervisor.js';
import type { Task } from './task.js';
import { isThenable } from './task.js';
import { assertFunction } from './validate.js';

/** Options for {@link scope} and {@link TaskGroup}. */
export interface ScopeOptions extends SupervisorOptions {
  /**
   * An absolute deadline in epoch milliseconds (`Date.now()` time). With `timeout` too, the earlier
   * wins; a deadline inherited from `signal` (an enclosing scope's) wins when it is earlier still.
   */
  readonly deadline?: number;
}

const noop = (): void => {};

let runBody: <T>(group: TaskGroup, body: (group: TaskGroup) => T | PromiseLike<T>) => Promise<T>;

/**
 * A child started by {@link TaskGroup.spawn}: await it for the child's value. Its rejection never
 * becomes an unhandled rejection, whether it is awaited or not: the group reports it instead.
 *
 * @example
 * ```ts
 * import { scope } from 'skein';
 * import assert from 'node:assert/strict';
 * const total = await scope(async (group) => {
 *   const a = group.spawn(async () => 1);
 *   const b = group.spawn(async () => 2);
 *   return (await a) + (await b);
 * });
 * assert.equal(total, 3);
 * ```
 */
export class TaskHandle<T> implements PromiseLike<T> {
  readonly #promise: Promise<T>;

  /** @internal */
  constructor(promise: Promise<T>) {
    this.#promise = promise;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#promise.finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return 'TaskHandle';
  }
}

/**
 * A group of concurrent children that cannot outlive it, after Python's `asyncio.TaskGroup` and
 * Trio's nurseries. `spawn` starts a child on the group's signal. The first failure (of a child, or
 * of the body in {@link scope}) aborts the group's signal with a `CancelledError` caused by it; the
 * group then waits for every child to settle (within the grace period) and reports the failure:
 * that error alone, or an `AggregateError` of every genuine failure when there were several.
 * Cancellations are not failures: neither those the group's own abort caused, nor a child that
 * rejects with its own `AbortError` (cancel one child by giving it a controller linked to
 * `group.signal` with `linkSignal`); the other children go on.
 *
 * Use {@link scope} for a body, or `await using group = new TaskGroup()` to tie a group to a block:
 * leaving the block waits for the children and throws their failure.
 *
 * @example
 * ```ts
 * import { TaskGroup, sleep } from 'skein';
 * import assert from 'node:assert/strict';
 * const done: string[] = [];
 * {
 *   await using group = new TaskGroup();
 *   group.spawn(async (signal) => { await sleep(5, { signal }); done.push('a'); });
 *   group.spawn(async () => { done.push('b'); });
 * } // waits here for both children
 * assert.deepEqual(done.sort(), ['a', 'b']);
 * ```
 */
export class TaskGroup implements AsyncDisposable {
  readonly #run: GroupRun;

  static {
    // Gives `scope()` the body runner without putting it on the public class.
    runBody = <T>(group: TaskGroup, body: (group: TaskGroup) => T | PromiseLike<T>) =>
      group.#run.runBody(group, body) as Promise<T>;
  }

  constructor(options?: ScopeOptions) {
    validateScopeOptions(options);
    this.#run = new GroupRun(options);
  }

  /** The signal every child receives. It aborts when the group fails, times out, is cancelled or its caller aborts. */
  get signal(): AbortSignal {
    return this.#run.controller.signal;
  }

  /** The group's deadline in epoch milliseconds (its own or an enclosing one's), or `undefined`. */
  get deadline(): number | undefined {
    return this.#run.deadline;
  }

  /** Children spawned and not yet settled (the body of a {@link scope} is not one of them). */
  get pending(): number {
    return this.#run.children;
  }

  /**
   * Starts `task` now, on the group's signal, and returns a handle to await its value. Spawning into a
   * group that is shutting down (it failed, timed out or was cancelled) or closed returns a handle
   * rejected with a `ScopeClosedError`, and `task` is not called.
   */
  spawn<T>(task: Task<T>): TaskHandle<T> {
    assertFunction(task, 'task');
    return this.#run.spawn(task);
  }

  /**
   * Aborts every child with `reason` (default: a `CancelledError`). Cancelling is not a failure: the
   * group still waits for its children, and `join()` resolves unless something genuinely failed.
   */
  cancel(reason: unknown = new CancelledError('the task group was cancelled')): void {
    this.#run.cancel(reason);
  }

  /**
   * Closes the group to new work once its children are done, waits for them, and rejects with the
   * failure (or `AggregateError` of failures), the caller's abort reason, or the `TimeoutError`.
   * A group made with `new TaskGroup()` must be joined (or disposed with `await using`): until then
   * it keeps its listener on `signal` and its deadline timer. The group a {@link scope} passes to its
   * body is joined by the scope; calling `join()` on it rejects with a `TypeError`, since waiting for
   * the body from inside the body could never end.
   */
  join(): Promise<void> {
    if (this.#run.managed) {
      return Promise.reject(new TypeError('the group of a scope() is joined by the scope itself; return from the body instead'));
    }
    return this.#run.join();
  }

  /** `await using group = new TaskGroup()` joins the group when the block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.join();
  }
}

/**
 * Runs `body` with a fresh {@link TaskGroup} and resolves with the body's value once every child the
 * body spawned has settled: structured concurrency, as in Trio and `asyncio.TaskGroup`. The first
 * failure, of the body or of a child, aborts the group; the scope rejects with it, or with an
 * `AggregateError` of every genuine failure when there were several. `timeout`, `deadline` and
 * `signal` bound the whole scope; a nested scope given the group's signal inherits its earliest
 * deadline and its cancellation.
 *
 * @example
 * ```ts
 * import { scope, sleep } from 'skein';
 * import assert from 'node:assert/strict';
 * const pages = await scope(async (group) => {
 *   const load = (n: number) => group.spawn(async (signal) => { await sleep(n, { signal }); return `page ${n}`; });
 *   return Promise.all([load(3), load(1), load(2)]);
 * }, { timeout: 1_000 });
 * assert.deepEqual(pages, ['page 3', 'page 1', 'page 2']);
 * ```
 */
export function scope<T>(body: (group: TaskGroup) => T | PromiseLike<T>, options?: ScopeOptions): Promise<T> {
  assertFunction(body, 'body');
  const group = new TaskGroup(options);
  return runBody(group, body);
}

function validateScopeOptions(options: ScopeOptions | undefined): void {
  validateSupervisorOptions(options, 'scope', SCOPE_OPTIONS);
  validateDeadline(options?.deadline);
}

const SCOPE_OPTIONS = [...SUPERVISOR_OPTIONS, 'deadline'];

const BODY = -1;

class GroupRun extends Supervisor {
  /** True for the group of a `scope()`, which the scope joins itself. */
  managed = false;
  readonly #failures: unknown[] = [];
  #failed = false;
  #done: { promise: Promise<void>; resolve: () => void } | undefined;
  #body: { state: 'running' | 'fulfilled' | 'rejected'; value: unknown } | undefined;

  /** Spawned children still running: `pending` counts the body of a scope too, this does not. */
  get children(): number {
    return this.#body?.state === 'running' ? this.pending - 1 : this.pending;
  }

  constructor(options: ScopeOptions | undefined) {
    super('scope', options);
    if (!this.begin(options?.signal, options?.timeout, options?.deadline)) {
      // The caller already gave up: the group starts shut down and joins at once.
      this.closed = true;
    }
  }

  spawn<T>(task: Task<T>): TaskHandle<T> {
    if (this.stopping || this.finished) {
      const rejected = Promise.reject(
        new ScopeClosedError(
          this.finished ? 'cannot spawn into a task group that has closed' : 'cannot spawn into a task group that is shutting down',
          { cause: this.stopReason },
        ),
      );
      rejected.catch(noop);
      return new TaskHandle(rejected);
    }
    this.pending++;
    let promise: Promise<T>;
    try {
      const value = task(this.controller.signal);
      promise = (isThenable(value) && value instanceof Promise ? value : Promise.resolve(value)) as Promise<T>;
    } catch (error) {
      promise = Promise.reject<T>(error);
    }
    promise.then(
      () => {
        this.pending--;
        this.check();
      },
      (error: unknown) => {
        this.pending--;
        this.onRejected(0, error);
      },
    );
    return new TaskHandle(promise);
  }

  cancel(reason: unknown): void {
    if (this.finished) return;
    this.stop(reason);
    this.check();
  }

  join(): Promise<void> {
    this.closed = true;
    if (this.#done === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#done = { promise, resolve };
    }
    this.check();
    return this.#done.promise.then(() => this.#throwOutcome());
  }

  runBody(group: TaskGroup, body: (group: TaskGroup) => unknown): Promise<unknown> {
    this.managed = true;
    if (this.stopping) return this.join().then(() => undefined);
    this.#body = { state: 'running', value: undefined };
    this.startChild(() => body(group), BODY);
    return this.join().then(() => {
      if (this.#body!.state === 'fulfilled') return this.#body!.value;
      // The body was cancelled by group.cancel(): there is no value to give.
      throw this.#body!.value;
    });
  }

  onFulfilled(index: number, value: unknown): void {
    if (index === BODY) this.#body = { state: 'fulfilled', value };
    this.check();
  }

  onRejected(index: number, error: unknown): void {
    if (index === BODY) this.#body = { state: 'rejected', value: error };
    if (!this.finished) {
      if (index !== BODY && isCancellation(error)) {
        // A child cancelled on its own (its own controller, linked to the group's signal) is not a
        // failure: the others go on, as in Trio when one child's cancel scope is cancelled.
      } else if (!this.stopping) {
        this.#failed = true;
        this.#failures.push(error);
        this.stop(new CancelledError('cancelled because a task in its group failed', { cause: error }));
      } else if (error !== this.stopReason && !isCancellation(error) && !this.#failures.includes(error)) {
        this.#failed = true;
        this.#failures.push(error);
      }
    }
    this.check();
  }

  complete(): void {
    this.#done?.resolve();
  }

  #throwOutcome(): void {
    if (this.#failed) {
      const failures = this.#failures;
      throw failures.length === 1
        ? failures[0]
        : new AggregateError(failures, `${failures.length} tasks of the group failed`);
    }
    if (this.cancelledByCaller || this.timedOut) throw this.stopReason;
  }
}

