/**
 * `mapIterable`: a lazy, bounded, concurrent map from one (async) iterable to an async iterable of
 * results. It is a pipeline stage: nothing is pulled before the consumer asks, at most `concurrency`
 * calls run at once, and at most `concurrency + buffer` items are between "pulled from the input" and
 * "taken by the consumer", so a slow consumer slows the input down instead of growing memory.
 */
import { CancelledError } from '../core/errors.js';
import { FailFast, validateGrace, type GraceOptions } from '../core/grace.js';
import { onAbort } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import { assertFunction, assertInteger, assertKnownOptions, assertOptions, assertSignal } from '../core/validate.js';
import { Deque } from './deque.js';
import { assertSource, checkStep, closeQuietly, openSource, type Mapper, type Source } from './source.js';

const MAP_ITERABLE_OPTIONS = ['concurrency', 'buffer', 'ordered', 'signal', 'graceMs', 'onStraggler'];

/** Options for {@link mapIterable}. */
export interface MapIterableOptions extends GraceOptions {
  /** The most calls running at once: an integer >= 1 (default 1). */
  readonly concurrency?: number;
  /**
   * How many finished results may wait for the consumer beyond the running calls (default
   * `concurrency`). Pulled-but-not-consumed items never exceed `concurrency + buffer`.
   */
  readonly buffer?: number;
  /** Yield results in input order (default true) or as they finish (false). */
  readonly ordered?: boolean;
  /** Aborts the iteration: running calls see it, the input is closed, `next()` rejects with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * What {@link mapIterable} returns: an async iterable iterator whose `return()` (what `break` calls)
 * always exists and resolves once the running calls have settled and the source is closed.
 *
 * @example
 * ```ts
 * import { mapIterable } from 'skein';
 * const doubled = mapIterable([1, 2, 3], (n) => n * 2);
 * console.log(await doubled.next()); // { done: false, value: 2 }
 * await doubled.return(); // stop early: nothing is left running
 * ```
 */
export interface MappedIterator<R> extends AsyncIterableIterator<R> {
  return(): Promise<IteratorResult<R>>;
  [Symbol.asyncIterator](): MappedIterator<R>;
}

/**
 * Maps `source` through `fn(item, index, signal)` lazily: returns an async iterable that pulls
 * from `source` only as fast as its consumer takes results (backpressure), with at most
 * `concurrency` calls in flight. Results come in input order, or as they finish with
 * `ordered: false`.
 *
 * Leaving early (`break`, `return`, a thrown error in the loop body) aborts the running calls,
 * calls the source's `return()`, and waits for the calls to settle. A failing call does the same
 * and the loop then throws that failure (fail-fast: results not yet taken are dropped).
 *
 * @example
 * ```ts
 * import { mapIterable, sleep } from 'skein';
 * async function* ids() {
 *   for (let id = 1; id <= 100; id++) yield id;
 * }
 * const seen: number[] = [];
 * for await (const doubled of mapIterable(ids(), async (id, _i, signal) => {
 *   await sleep(1, { signal });
 *   return id * 2;
 * }, { concurrency: 4 })) {
 *   seen.push(doubled);
 *   if (seen.length === 3) break; // stops the source and the calls in flight
 * }
 * console.log(seen); // [2, 4, 6]
 * ```
 */
export function mapIterable<T, R>(
  source: Source<T>,
  fn: Mapper<T, R>,
  options?: MapIterableOptions,
): MappedIterator<Awaited<R>> {
  assertSource(source, 'source');
  assertFunction(fn, 'fn');
  assertOptions(options);
  assertKnownOptions(options, MAP_ITERABLE_OPTIONS, 'mapIterable');
  const concurrency = options?.concurrency ?? 1;
  assertInteger(concurrency, 'concurrency', { min: 1 });
  const buffer = options?.buffer ?? concurrency;
  assertInteger(buffer, 'buffer', { min: 0 });
  const ordered = options?.ordered ?? true;
  if (typeof ordered !== 'boolean') throw new TypeError(`ordered must be a boolean, got ${typeof ordered}`);
  assertSignal(options?.signal);
  validateGrace(options);
  return new MapIterator<T, Awaited<R>>(source, fn as Mapper<T, Awaited<R>>, concurrency, buffer, ordered, options);
}

const NONE: unique symbol = Symbol('none');
const EMPTY = 0;
const FULFILLED = 1;
const REJECTED = 2;

interface Request<R> {
  resolve: (result: IteratorResult<R>) => void;
  reject: (error: unknown) => void;
}

class MapIterator<T, R> implements MappedIterator<R> {
  readonly #source: Source<T>;
  readonly #fn: Mapper<T, R>;
  readonly #concurrency: number;
  readonly #window: number;
  readonly #ordered: boolean;
  readonly #options: MapIterableOptions | undefined;
  readonly #controller = new AbortController();
  readonly #requests = new Deque<Request<R>>();

  #iterator: Iterator<T> | AsyncIterator<T> | undefined;
  #async = false;
  #started = false;
  #pulling = false;
  #sourceDone = false;
  #sourceClosed = false;
  /** Set once the iteration must stop: the failure to report, or undefined for a clean stop. */
  #stopped: { error: unknown; report: boolean } | undefined;
  /** The stop itself: abort, grace period, stragglers, suppressed errors. */
  #failFast: FailFast | undefined;
  #finished = false;
  #inFlight = 0;
  #buffered = 0;
  #nextIndex = 0;
  #consumed = 0;
  /** Ordered mode: results by `index % window`, with their states. */
  #slots: unknown[] = [];
  #states: Uint8Array = new Uint8Array(0);
  /** Unordered mode: results in finishing order. */
  readonly #results = new Deque<R>();
  #removeListener: () => void = noop;
  #closing: Promise<IteratorResult<R>> | undefined;
  #resolveClosing: ((result: IteratorResult<R>) => void) | undefined;

  constructor(
    source: Source<T>,
    fn: Mapper<T, R>,
    concurrency: number,
    buffer: number,
    ordered: boolean,
    options: MapIterableOptions | undefined,
  ) {
    this.#source = source;
    this.#fn = fn;
    this.#concurrency = concurrency;
    this.#window = concurrency + buffer;
    this.#ordered = ordered;
    this.#options = options;
  }

  [Symbol.asyncIterator](): MappedIterator<R> {
    return this;
  }

  next(): Promise<IteratorResult<R>> {
    if (this.#finished) return this.#final();
    if (!this.#started && !this.#start()) return this.#final();
    const value = this.#take();
    if (value !== NONE) {
      // The taken result freed room in the window: start the calls it allows now, not once the buffer is empty.
      this.#pump();
      return Promise.resolve({ done: false, value });
    }
    if (this.#complete()) {
      this.#finish();
      return this.#final();
    }
    const pending = new Promise<IteratorResult<R>>((resolve, reject) => this.#requests.push({ resolve, reject }));
    this.#pump();
    return pending;
  }

  return(): Promise<IteratorResult<R>> {
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    if (!this.#started) {
      this.#started = true;
      this.#finished = true;
      return Promise.resolve({ done: true, value: undefined });
    }
    this.#stop(undefined, new CancelledError('mapIterable stopped: its consumer left'), false);
    return this.#closing ?? Promise.resolve({ done: true, value: undefined });
  }

  /** Opens the source and the link to the caller's signal; false when the iteration cannot start. */
  #start(): boolean {
    this.#started = true;
    const signal = this.#options?.signal;
    if (signal?.aborted) {
      this.#stopped = { error: signal.reason, report: true };
      this.#finished = true;
      return false;
    }
    try {
      const opened = openSource(this.#source);
      this.#iterator = opened.iterator;
      this.#async = opened.async;
    } catch (error) {
      this.#stopped = { error, report: true };
      this.#finished = true;
      return false;
    }
    if (this.#ordered) {
      this.#slots = new Array<unknown>(this.#window).fill(undefined);
      this.#states = new Uint8Array(this.#window);
    }
    if (signal !== undefined) {
      this.#removeListener = onAbort(signal, () => this.#stop(signal.reason, signal.reason, true));
    }
    return true;
  }

  /** The next result for the consumer if one is ready now, else NONE. */
  #take(): R | typeof NONE {
    if (this.#buffered === 0) return NONE;
    if (!this.#ordered) {
      this.#buffered--;
      this.#consumed++;
      return this.#results.shift() as R;
    }
    const slot = this.#consumed % this.#window;
    if (this.#states[slot] === EMPTY) return NONE;
    const value = this.#slots[slot] as R;
    this.#slots[slot] = undefined;
    this.#states[slot] = EMPTY;
    this.#consumed++;
    this.#buffered--;
    return value;
  }

  /** True when the source is exhausted and every result has been taken. */
  #complete(): boolean {
    return this.#stopped === undefined && this.#sourceDone && this.#inFlight === 0 && !this.#pulling && this.#buffered === 0;
  }

  /** Starts calls while the limits allow: in flight < concurrency, pulled-not-consumed < window. */
  #pump(): void {
    const window = this.#window;
    while (
      this.#stopped === undefined &&
      !this.#sourceDone &&
      !this.#pulling &&
      this.#inFlight < this.#concurrency &&
      this.#inFlight + this.#buffered < window
    ) {
      if (this.#async) {
        this.#pullAsync(this.#iterator as AsyncIterator<T>);
        return;
      }
      let step: IteratorResult<T>;
      try {
        step = checkStep<T>((this.#iterator as Iterator<T>).next());
      } catch (error) {
        this.#sourceDone = true;
        this.#stop(error, new CancelledError('mapIterable stopped: reading its input failed', { cause: error }), true);
        return;
      }
      if (step.done === true) {
        this.#sourceDone = true;
        this.#deliver();
        return;
      }
      this.#call(step.value);
    }
  }

  #pullAsync(iterator: AsyncIterator<T>): void {
    this.#pulling = true;
    let step: Promise<IteratorResult<T>>;
    try {
      step = Promise.resolve(iterator.next());
    } catch (error) {
      this.#pulled(undefined, error);
      return;
    }
    step.then(
      (result) => {
        let checked: IteratorResult<T>;
        try {
          checked = checkStep<T>(result);
        } catch (error) {
          this.#pulled(undefined, error);
          return;
        }
        this.#pulled(checked, undefined);
      },
      (error: unknown) => this.#pulled(undefined, error ?? new Error('the source rejected with nothing')),
    );
  }

  #pulled(result: IteratorResult<T> | undefined, error: unknown): void {
    this.#pulling = false;
    if (result === undefined || result.done === true) {
      // A source that threw or ended is finished: its return() must not be called.
      this.#sourceDone = true;
    }
    if (this.#stopped !== undefined) {
      // Whatever arrived after the stop is dropped; the source can be closed now that no pull is pending.
      void this.#closeSource();
      return;
    }
    if (result === undefined) {
      this.#stop(error, new CancelledError('mapIterable stopped: reading its input failed', { cause: error }), true);
      return;
    }
    if (result.done === true) {
      this.#deliver();
      return;
    }
    this.#call(result.value);
    this.#pump();
  }

  #call(item: T): void {
    const index = this.#nextIndex++;
    this.#inFlight++;
    let result: R | PromiseLike<R>;
    try {
      result = this.#fn(item, index, this.#controller.signal);
    } catch (error) {
      this.#settled(index, REJECTED, error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.#settled(index, FULFILLED, value),
        (error: unknown) => this.#settled(index, REJECTED, error),
      );
    } else {
      this.#settled(index, FULFILLED, result);
    }
  }

  #settled(index: number, state: typeof FULFILLED | typeof REJECTED, outcome: unknown): void {
    this.#inFlight--;
    const stopped = this.#stopped;
    if (stopped !== undefined) {
      if (state === REJECTED) this.#failFast?.absorb(outcome);
      this.#maybeClosed();
      return;
    }
    if (state === REJECTED) {
      this.#stop(outcome, new CancelledError('mapIterable stopped: another call failed', { cause: outcome }), true);
      return;
    }
    this.#buffered++;
    if (this.#ordered) {
      const slot = index % this.#window;
      this.#slots[slot] = outcome;
      this.#states[slot] = state;
    } else {
      this.#results.push(outcome as R);
    }
    this.#deliver();
    this.#pump();
  }

  /** Hands ready results to waiting consumers, and ends them all when nothing more will come. */
  #deliver(): void {
    while (this.#requests.length > 0) {
      const value = this.#take();
      if (value === NONE) break;
      this.#requests.shift()!.resolve({ done: false, value });
    }
    if (this.#requests.length > 0 && this.#complete()) this.#finish();
  }

  /**
   * Stops: aborts the running calls, closes the source and waits for both, with the grace period.
   * `error` is what the consumer's next `next()` rejects with when `report` is true.
   */
  #stop(error: unknown, abortReason: unknown, report: boolean): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = { error, report };
    this.#removeListener();
    const failFast = new FailFast('mapIterable', this.#options);
    this.#failFast = failFast;
    failFast.stop(error, abortReason, this.#controller);
    this.#closing = new Promise((resolve) => (this.#resolveClosing = resolve));
    if (!this.#pulling) void this.#closeSource();
    this.#maybeClosed();
    if (!this.#finished) {
      failFast.wait(
        () => this.#inFlight,
        () => this.#finish(),
      );
    }
  }

  async #closeSource(): Promise<void> {
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      await closeQuietly(this.#iterator!);
    }
    this.#sourceClosed = true;
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#inFlight === 0 && this.#sourceClosed && !this.#pulling) this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    // Cancels the grace period; the suppressed errors go with the failure (a consumer that left has none).
    this.#failFast?.settle();
    this.#removeListener();
    this.#slots = [];
    this.#results.clear();
    this.#buffered = 0;
    for (let request = this.#requests.shift(); request !== undefined; request = this.#requests.shift()) {
      const stopped = this.#stopped;
      if (stopped?.report === true) {
        stopped.report = false;
        request.reject(stopped.error);
      } else {
        request.resolve({ done: true, value: undefined });
      }
    }
    this.#resolveClosing?.({ done: true, value: undefined });
  }

  /** After the end: the failure once (if there is one to report), then done. */
  #final(): Promise<IteratorResult<R>> {
    const stopped = this.#stopped;
    if (stopped?.report === true) {
      stopped.report = false;
      return Promise.reject(stopped.error);
    }
    return Promise.resolve({ done: true, value: undefined });
  }
}

function noop(): void {}
