/**
 * Offloading CPU-bound work to worker threads, so the event loop keeps serving I/O and timers while
 * a hash, a parse or an image resize runs. Built on piscina, the pool the Node.js core team's own
 * tooling and Fastify use: it queues in O(1), reuses warm threads, moves transferables, and
 * terminates a thread whose task was aborted. This module adds skein's contract on top: every call
 * takes a `signal` and rejects with its reason, `close()` settles only when no call and no thread is
 * left, and nothing rejects unhandled.
 *
 * Exported from `skein/worker`, not `skein`, so that only users who offload install piscina.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits, TransferListItem, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { CancelledError } from '../core/errors.js';
import { assertDuration, assertInteger, assertOptions, assertSignal, describe } from '../core/validate.js';

/** Options for {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The module the workers load: an absolute path, a `file:` URL string or a `URL`. It must be
   * JavaScript that Node can import without a loader (`.js`, `.mjs` or `.cjs`), typically the
   * compiled output next to the caller: `new URL('./hash.worker.js', import.meta.url)`.
   */
  readonly filename: string | URL;
  /** The export to call when {@link WorkerRunOptions.name} does not say (default `'default'`). */
  readonly name?: string;
  /** The most threads the pool runs at once (default `os.availableParallelism()`). */
  readonly maxThreads?: number;
  /** Threads started up front and kept when idle (default 0: threads start on demand). */
  readonly minThreads?: number;
  /**
   * How long a thread beyond `minThreads` may stay idle before it is stopped, in ms (default 5000;
   * `Infinity` keeps it). Idle threads never keep the process alive.
   */
  readonly idleTimeoutMs?: number;
  /** V8 heap limits for each worker (see `node:worker_threads`). */
  readonly resourceLimits?: ResourceLimits;
}

/** Options for {@link WorkerPool.run}. */
export interface WorkerRunOptions {
  /**
   * Cancels the call. Queued: it leaves the queue. Running: its thread is terminated (a synchronous
   * function cannot be interrupted any other way) and replaced. Either way the call rejects at once
   * with `signal.reason`.
   */
  readonly signal?: AbortSignal;
  /** The export to call, overriding the pool's `name`. */
  readonly name?: string;
  /** Objects to move to the worker instead of copying (an `ArrayBuffer`, a `MessagePort`, ...). */
  readonly transferList?: readonly TransferListItem[];
}

/** Options for {@link WorkerPool.close}. */
export interface WorkerPoolCloseOptions {
  /**
   * `false` (default): stop taking calls, let every queued and running call finish, then stop the
   * threads. `true`: abort every call at once (each rejects with a {@link CancelledError}; running
   * ones have their thread terminated), then stop the threads.
   */
  readonly force?: boolean;
}

/**
 * A call was made on a {@link WorkerPool} that is closing or closed. The function was never called.
 *
 * @example
 * ```ts
 * import { WorkerPool, WorkerPoolClosedError } from 'skein/worker';
 * const pool = new WorkerPool({ filename: new URL('./worker.js', import.meta.url) });
 * await pool.close();
 * await pool.run(1).catch((error) => error instanceof WorkerPoolClosedError); // true
 * ```
 */
export class WorkerPoolClosedError extends Error {
  override readonly name = 'WorkerPoolClosedError';

  constructor(message = 'the worker pool is closing or closed', options?: ErrorOptions) {
    super(message, options);
  }
}

/** The default idle time before a surplus thread stops: long enough to serve bursts warm. */
const DEFAULT_IDLE_TIMEOUT_MS = 5_000;

/**
 * A pool of worker threads that call an exported function of one module with each input.
 *
 * - `run(input, { signal })` resolves with the function's (awaited) return value. Inputs and results
 *   cross threads by structured clone; pass `transferList` to move buffers instead.
 * - An error thrown in the worker rejects the call with its `name`, `message` and `stack` (and
 *   `cause`) preserved; custom classes and extra properties do not survive the thread boundary. A
 *   module that fails to load rejects the calls waiting for it with the load error.
 * - Aborting a queued call removes it from the queue; aborting a running call terminates its thread
 *   and starts a new one if needed. The call rejects with the signal's reason, never with piscina's
 *   own `AbortError`.
 * - `close()` waits for queued and running calls; `close({ force: true })` aborts them. Both settle
 *   when every thread has exited. `await using` calls `close()`.
 *
 * The pool is sized to the machine (`os.availableParallelism()` threads at most) and starts threads
 * on demand. Its queue is unbounded: bound what you submit with a semaphore or `map` from `skein`.
 *
 * @example
 * ```ts
 * import { WorkerPool } from 'skein/worker';
 * // hash.worker.js: export default function (bytes) { ... return digest; }
 * await using pool = new WorkerPool<number, string>({ filename: new URL('./hash.worker.js', import.meta.url) });
 * const controller = new AbortController();
 * const digest = await pool.run(1 << 20, { signal: controller.signal });
 * ```
 */
export class WorkerPool<In = unknown, Out = unknown> implements AsyncDisposable {
  readonly #piscina: Piscina<In, Out>;
  /** One controller per call in flight: force-closing aborts them, and close waits for their calls. */
  readonly #calls = new Map<AbortController, Promise<unknown>>();
  /**
   * Every thread seen alive and not exited yet, with its exit: threads that became ready, and every
   * thread alive when a call was aborted (an abort terminates a thread, and piscina forgets it before
   * it has exited, even one still starting). `close()` waits for all of them.
   */
  readonly #threads = new Map<Worker, Promise<void>>();
  /** Threads that became ready (their module loaded). */
  readonly #started = new WeakSet<Worker>();
  #closing: Promise<void> | undefined;
  /** Set once close has handed over to piscina's destroy: nothing may start a thread any more. */
  #destroying = false;

  constructor(options: WorkerPoolOptions) {
    assertOptions(options);
    if (options === undefined) throw new TypeError('WorkerPool needs options with a filename, got undefined');
    const filename = toFilename(options.filename);
    if (options.name !== undefined) assertName(options.name, 'name');
    const maxThreads = options.maxThreads ?? availableParallelism();
    assertInteger(maxThreads, 'maxThreads', { min: 1 });
    const minThreads = options.minThreads ?? 0;
    assertInteger(minThreads, 'minThreads', { max: maxThreads });
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    assertDuration(idleTimeoutMs, 'idleTimeoutMs', { allowInfinity: true });
    if (options.resourceLimits !== undefined) assertOptions(options.resourceLimits, 'resourceLimits');

    this.#piscina = new Piscina<In, Out>({
      filename,
      name: options.name ?? 'default',
      maxThreads,
      minThreads,
      idleTimeout: idleTimeoutMs,
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      // Per-task timing histograms cost time on every call and skein does not expose them.
      recordTiming: false,
      ...workerExecArgv(),
    });
    this.#piscina.on('workerCreate', (thread: Worker) => {
      this.#started.add(thread);
      this.#trackThreads();
    });
    // piscina emits 'error' for a thread that fails with no call to blame; unheard, it would crash.
    this.#piscina.on('error', (error: unknown) => this.#onThreadError(error));
  }

  /** The most threads this pool runs at once. */
  get maxThreads(): number {
    return this.#piscina.maxThreads;
  }

  /** Threads alive now (starting, busy or idle). */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Calls waiting for a free thread. */
  get queued(): number {
    return this.#piscina.queueSize;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Calls the pool's function (or `options.name`) with `input` on a worker thread.
   *
   * @example
   * ```ts
   * import { WorkerPool } from 'skein/worker';
   * await using pool = new WorkerPool({ filename: new URL('./math.worker.js', import.meta.url) });
   * const sum = await pool.run({ a: 1, b: 2 }, { name: 'add', signal: AbortSignal.timeout(1_000) });
   * ```
   */
  run(input: In, options?: WorkerRunOptions): Promise<Out> {
    assertOptions(options);
    const signal = options?.signal;
    assertSignal(signal);
    const name = options?.name;
    if (name !== undefined) assertName(name, 'options.name');
    const transferList = options?.transferList;
    if (transferList !== undefined && !Array.isArray(transferList)) {
      throw new TypeError(`options.transferList must be an array or undefined, got ${describe(transferList)}`);
    }
    if (this.#closing !== undefined) return Promise.reject(new WorkerPoolClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);

    const controller = new AbortController();
    const onAbort = signal === undefined ? undefined : (): void => this.#abort(controller, signal.reason);
    if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true });
    const call = this.#piscina
      .run(input, {
        signal: controller.signal,
        ...(name === undefined ? {} : { name }),
        ...(transferList === undefined ? {} : { transferList: transferList as TransferListItem[] }),
      })
      .then(undefined, (error: unknown) => {
        // An abort or a crash may have taken the last thread while calls wait: see #recover.
        this.#recover();
        // piscina wraps the reason in its own AbortError; callers expect the reason itself.
        throw controller.signal.aborted ? (controller.signal.reason as unknown) : error;
      })
      .finally(() => {
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
        this.#calls.delete(controller);
      });
    this.#calls.set(controller, call);
    return call;
  }

  /**
   * Stops the pool. Without `force`, new calls are refused with {@link WorkerPoolClosedError}
   * while every queued and running call finishes; with `force: true`, those calls are aborted with a
   * {@link CancelledError}. Resolves when every thread has exited. Calling it again returns the same
   * promise (the first call's `force` decides).
   *
   * @example
   * ```ts
   * import { WorkerPool } from 'skein/worker';
   * const pool = new WorkerPool({ filename: new URL('./worker.js', import.meta.url) });
   * process.once('SIGTERM', () => void pool.close({ force: true }));
   * ```
   */
  close(options?: WorkerPoolCloseOptions): Promise<void> {
    assertOptions(options);
    const force = options?.force ?? false;
    if (typeof force !== 'boolean') throw new TypeError(`options.force must be a boolean, got ${describe(force)}`);
    this.#closing ??= this.#close(force);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    if (force) {
      const reason = new CancelledError('the worker pool was closed');
      for (const controller of this.#calls.keys()) this.#abort(controller, reason);
    }
    await Promise.allSettled(this.#calls.values());
    this.#destroying = true;
    // piscina's destroy() clears its "destroying" flag when it returns; the exit of a thread that an
    // abort terminated earlier, arriving after that, makes piscina start `minThreads` new threads
    // (its exit handler restores the minimum whenever the pool is not destroying). So: destroy, wait
    // for every thread ever terminated, and destroy again until no thread is left.
    do {
      await this.#piscina.destroy();
      await Promise.all(this.#threads.values());
    } while (this.#piscina.threads.length > 0);
  }

  /** Same as `close()`: waits for the calls in flight. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A thread failed outside any call. If it failed while starting (its module would not load) and no
   * started thread is left, the queued calls would wait forever: piscina keeps them for a thread that
   * will never be ready. They are rejected with the error instead. Otherwise a started thread died
   * between calls (an asynchronous throw in the module): piscina replaces it, and it is reported.
   */
  #onThreadError(error: unknown): void {
    // piscina 5.3.2 emits this when a result arrives from a thread it has just terminated for an
    // abort (the result was already in the port when the port closed): that call has settled with its
    // abort reason and no thread failed.
    if (error instanceof Error && error.message.startsWith('Unexpected message from Worker')) return;
    const serving = this.#piscina.threads.some((thread) => this.#started.has(thread));
    if (!serving && this.#calls.size > 0) {
      for (const controller of this.#calls.keys()) this.#abort(controller, error);
      return;
    }
    globalThis.process?.emitWarning?.(`skein: a WorkerPool thread failed outside any call: ${String(error)}`, {
      type: 'SkeinWorkerPoolWarning',
      code: 'SKEIN_WORKER_ERROR',
    });
    this.#recover();
  }

  /**
   * Aborts one call. piscina terminates the call's thread if it is running (or merely handed to a
   * thread still starting) and forgets the thread at once: every thread alive now is tracked first,
   * so that `close()` can wait for its exit.
   */
  #abort(controller: AbortController, reason: unknown): void {
    if (controller.signal.aborted) return;
    this.#trackThreads();
    controller.abort(reason);
  }

  /**
   * Starts the threads that queued calls need when piscina will not. piscina starts a thread only
   * when a call arrives or a thread finishes; when an abort terminates a running call's thread (or a
   * thread crashes), it replaces it only up to `minThreads`. With `minThreads: 0` (skein's default)
   * and every thread terminated, the calls still queued would wait for a thread that never comes,
   * and `close()` with them (piscina 5.3.2: `ThreadPool`'s abort handler calls
   * `_ensureMinimumWorkers()` and nothing that drains the queue). Here, while calls are queued
   * beyond the threads starting, no thread is idle and the pool is below `maxThreads`, a probe call
   * is submitted and aborted at once: submitting it makes piscina start a thread (the probe cannot
   * be given to a busy thread), aborting it takes it off the queue before it reaches any thread, and
   * the new thread, once ready, takes the queued calls.
   */
  #recover(): void {
    if (this.#destroying || this.#calls.size === 0) return;
    const piscina = this.#piscina;
    while (piscina.queueSize > 0 && piscina.idleThreads === 0) {
      const threads = piscina.threads.length;
      if (threads >= piscina.maxThreads) return;
      const probe = new AbortController();
      piscina.run(undefined as In, { signal: probe.signal }).catch(ignore);
      probe.abort();
      // A thread that piscina did not start (it never should) would make this loop spin.
      if (piscina.threads.length === threads) return;
    }
  }

  #trackThreads(): void {
    for (const thread of this.#piscina.threads) {
      if (this.#threads.has(thread)) continue;
      this.#threads.set(
        thread,
        new Promise<void>((resolve) => {
          thread.once('exit', () => {
            this.#threads.delete(thread);
            resolve();
          });
        }),
      );
    }
  }
}

const ignore = (): void => {};

const NO_REQUIRE_ESM = '--no-experimental-require-module';

/**
 * The threads' Node flags: the parent's, with `require(esm)` turned off where Node turns it on.
 * piscina loads the module with `require()` first, and on Node 20.19+ a `.mjs`/ESM module then goes
 * through `require(esm)`; a thread terminated while it is in there (an abort of a call handed to a
 * thread still starting, a close) aborts the whole process: Node 20.20's
 * `ModuleWrap::CreateRequiredModuleFacade` asserts that instantiating the facade module succeeded,
 * which termination makes fail (`Assertion failed: facade->InstantiateModule(...).IsJust()`, seen
 * once in about 600 abort-heavy schedules). Without `require(esm)`, piscina's `require()` fails
 * cleanly and it falls back to `import()`, which a terminated thread leaves without harm.
 */
function workerExecArgv(): { execArgv?: string[] } {
  const process = globalThis.process;
  const features = process.features as { require_module?: boolean };
  if (features.require_module !== true || !process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM)) return {};
  if (process.execArgv.includes(NO_REQUIRE_ESM)) return {};
  return { execArgv: [...process.execArgv, NO_REQUIRE_ESM] };
}

function toFilename(value: unknown): string {
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw new TypeError(`filename must be a file: URL, got ${value.href}`);
    return fileURLToPath(value);
  }
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`filename must be a path, a file: URL string or a URL, got ${describe(value)}`);
  }
  return value.startsWith('file:') ? fileURLToPath(value) : value;
}

function assertName(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be the non-empty name of an export, got ${describe(value)}`);
  }
}
