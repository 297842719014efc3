/**
 * `map`: like `Promise.all(items.map(fn))`, but with at most `concurrency` calls at a time, results in
 * input order, and structured failure: the first failure aborts the calls still running, stops pulling
 * the input, closes its iterator, waits for the running calls to settle, and only then rejects.
 */
import { CancelledError } from '../core/errors.js';
import { FailFast, validateGrace, type GraceOptions } from '../core/grace.js';
import { onAbort } from '../core/signal.js';
import { assertFunction, assertInteger, assertKnownOptions, assertOptions, assertSignal } from '../core/validate.js';
import { assertSource, checkStep, closeQuietly, openSource, type Mapper, type Source } from './source.js';

const MAP_OPTIONS = ['concurrency', 'signal', 'settle', 'graceMs', 'onStraggler'];

/** Options for {@link map}. */
export interface MapOptions extends GraceOptions {
  /** The most calls running at once: an integer >= 1 or `Infinity` (the default). */
  readonly concurrency?: number;
  /** Aborts the whole map: running calls see it, the input is closed, the map rejects with its reason. */
  readonly signal?: AbortSignal;
  /**
   * Collect every outcome (as `Promise.allSettled` does) instead of failing fast. Only `signal`
   * stops a settling map. Default false.
   */
  readonly settle?: boolean;
}

/**
 * Maps `items` through `fn(item, index, signal)` with at most `concurrency` calls in flight and
 * resolves to the results in input order. `items` may be an array or any (async) iterable, read
 * lazily: an item is pulled only when a call can start.
 *
 * Fail-fast (the default): the first failure aborts the running calls' signals with a
 * `CancelledError` whose `cause` is that failure, stops pulling, calls the input iterator's
 * `return()`, waits for the running calls to settle (up to `graceMs`, then reports stragglers), and
 * rejects with the failure. `settle: true` resolves to `PromiseSettledResult`s instead.
 *
 * @example
 * ```ts
 * import { map, sleep } from 'skein';
 * const lengths = await map(['a', 'bb', 'ccc'], async (word, _index, signal) => {
 *   await sleep(1, { signal });
 *   return word.length;
 * }, { concurrency: 2 });
 * console.log(lengths); // [1, 2, 3]
 * ```
 */
export function map<T, R>(
  items: Source<T>,
  fn: Mapper<T, R>,
  options?: MapOptions & { readonly settle?: false },
): Promise<Awaited<R>[]>;
export function map<T, R>(
  items: Source<T>,
  fn: Mapper<T, R>,
  options: MapOptions & { readonly settle: true },
): Promise<PromiseSettledResult<Awaited<R>>[]>;
export function map<T, R>(
  items: Source<T>,
  fn: Mapper<T, R>,
  options?: MapOptions,
): Promise<Awaited<R>[] | PromiseSettledResult<Awaited<R>>[]>;
export function map<T, R>(
  items: Source<T>,
  fn: Mapper<T, R>,
  options?: MapOptions,
): Promise<Awaited<R>[] | PromiseSettledResult<Awaited<R>>[]> {
  assertSource(items, 'items');
  assertFunction(fn, 'fn');
  assertOptions(options);
  assertKnownOptions(options, MAP_OPTIONS, 'map');
  const concurrency = options?.concurrency ?? Infinity;
  assertInteger(concurrency, 'concurrency', { min: 1, allowInfinity: true });
  const signal = options?.signal;
  assertSignal(signal);
  validateGrace(options);
  const settle = options?.settle ?? false;
  if (typeof settle !== 'boolean') throw new TypeError(`settle must be a boolean, got ${typeof settle}`);
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise((resolve, reject) => {
    new MapRun<T, R>(items, fn, concurrency, signal, settle, options, resolve, reject).start();
  });
}

const DONE: unique symbol = Symbol('done');

/** One call of `map`: its workers, its input and its way out. */
class MapRun<T, R> {
  readonly #controller = new AbortController();
  readonly #results: unknown[] = [];
  readonly #failFast: FailFast;
  #stopping = false;
  #workers = 0;
  #inFlight = 0;
  #next = 0;
  #iterator: Iterator<T> | AsyncIterator<T> | undefined;
  #sourceDone = false;
  #sourceClosed = true;
  #asyncSource = false;
  #pullTail: Promise<unknown> = Promise.resolve();
  #removeListener: () => void = noop;

  constructor(
    readonly items: Source<T>,
    readonly fn: Mapper<T, R>,
    readonly concurrency: number,
    readonly signal: AbortSignal | undefined,
    readonly settle: boolean,
    readonly grace: GraceOptions | undefined,
    readonly resolve: (results: never[]) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.#failFast = new FailFast('map', grace);
  }

  start(): void {
    const signal = this.signal;
    if (signal !== undefined) this.#removeListener = onAbort(signal, () => this.#stop(signal.reason, signal.reason));
    const items = this.items;
    if (Array.isArray(items)) {
      const array = items as readonly T[];
      this.#results.length = array.length;
      const workers = Math.min(this.concurrency, array.length);
      this.#workers = workers;
      for (let i = 0; i < workers; i++) void this.#arrayWorker(array);
    } else {
      let opened;
      try {
        opened = openSource(items);
      } catch (error) {
        this.#failFast.stop(error, undefined);
        this.#finish();
        return;
      }
      this.#iterator = opened.iterator;
      this.#asyncSource = opened.async;
      this.#sourceClosed = false;
      this.#workers = 1;
      void (opened.async ? this.#asyncWorker(opened.iterator as AsyncIterator<T>) : this.#syncWorker(opened.iterator as Iterator<T>));
    }
    this.#maybeFinish();
  }

  async #arrayWorker(array: readonly T[]): Promise<void> {
    const fn = this.fn;
    const taskSignal = this.#controller.signal;
    const results = this.#results;
    const length = array.length;
    while (!this.#stopping && this.#next < length) {
      const index = this.#next++;
      this.#inFlight++;
      try {
        const value = await fn(array[index] as T, index, taskSignal);
        results[index] = this.settle ? { status: 'fulfilled', value } : value;
      } catch (error) {
        this.#failed(index, error);
      }
      this.#inFlight--;
    }
    this.#workerDone();
  }

  async #syncWorker(iterator: Iterator<T>): Promise<void> {
    // Spawning from inside a worker would otherwise recurse once per worker before the first await.
    await Promise.resolve();
    while (!this.#stopping) {
      let step: IteratorResult<T>;
      try {
        step = checkStep<T>(iterator.next());
      } catch (error) {
        this.#sourceFailed(error);
        break;
      }
      if (step.done === true) {
        this.#sourceDone = true;
        break;
      }
      await this.#call(step.value);
    }
    this.#workerDone();
  }

  async #asyncWorker(iterator: AsyncIterator<T>): Promise<void> {
    while (!this.#stopping) {
      // Pulls are serialised: a hand-written async iterator need not cope with overlapping next() calls.
      const pulled = this.#pullTail.then(() => this.#pull(iterator));
      this.#pullTail = pulled;
      const item = await pulled;
      if (item === DONE) break;
      await this.#call(item);
    }
    this.#workerDone();
  }

  async #pull(iterator: AsyncIterator<T>): Promise<T | typeof DONE> {
    if (this.#stopping || this.#sourceDone) return DONE;
    try {
      const step = checkStep<T>(await iterator.next());
      if (step.done === true) {
        this.#sourceDone = true;
        return DONE;
      }
      return step.value;
    } catch (error) {
      this.#sourceFailed(error);
      return DONE;
    }
  }

  /** Runs one call for an item just pulled from an iterator, first starting another worker if allowed. */
  async #call(item: T): Promise<void> {
    const index = this.#next++;
    if (this.#workers < this.concurrency && !this.#stopping) {
      this.#workers++;
      const iterator = this.#iterator!;
      void (this.#asyncSource ? this.#asyncWorker(iterator as AsyncIterator<T>) : this.#syncWorker(iterator as Iterator<T>));
    }
    this.#inFlight++;
    try {
      const value = await this.fn(item, index, this.#controller.signal);
      this.#results[index] = this.settle ? { status: 'fulfilled', value } : value;
    } catch (error) {
      this.#failed(index, error);
    }
    this.#inFlight--;
  }

  #failed(index: number, error: unknown): void {
    if (this.settle) {
      if (!this.#stopping) this.#results[index] = { status: 'rejected', reason: error };
      return;
    }
    if (this.#stopping) {
      this.#failFast.absorb(error);
      return;
    }
    this.#stop(error, new CancelledError('map stopped: another call failed', { cause: error }));
  }

  #sourceFailed(error: unknown): void {
    // An iterator whose next() threw is finished; calling its return() would be wrong.
    this.#sourceDone = true;
    this.#stop(error, new CancelledError('map stopped: reading its input failed', { cause: error }));
  }

  #stop(error: unknown, abortReason: unknown): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#removeListener();
    this.#failFast.stop(error, abortReason, this.#controller);
    if (this.#iterator !== undefined) void this.#closeSource();
    this.#maybeFinish();
    // Running calls, or a pull the input never answers, get the grace period and no more.
    this.#failFast.wait(
      () => this.#inFlight,
      () => this.#finish(),
    );
  }

  async #closeSource(): Promise<void> {
    // Wait for a pull in progress: return() must not overlap next().
    await this.#pullTail;
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      await closeQuietly(this.#iterator!);
    }
    this.#sourceClosed = true;
    this.#maybeFinish();
  }

  #workerDone(): void {
    this.#workers--;
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#workers === 0 && (this.#sourceClosed || (this.#sourceDone && !this.#stopping))) this.#finish();
  }

  #finish(): void {
    const failFast = this.#failFast;
    if (!failFast.settle()) return;
    this.#removeListener();
    const failure = failFast.failure;
    if (failure !== undefined) {
      this.reject(failure.error);
    } else {
      this.resolve(this.#results as never[]);
    }
  }
}

function noop(): void {}
