/**
 * The board's event stream: what a live progress view, a dashboard or a trace file reads. Each
 * subscriber has its own bounded buffer; a subscriber that falls behind loses the oldest events and
 * is told how many with a `lagged` event, so a slow reader can never make the board grow without bound
 * or wait for it.
 */
import { assertInteger, assertOptions, assertSignal } from '../core/validate.js';
import { onAbort } from '../core/signal.js';
import type { ErrorSummary } from './builtins.js';
import { Deque } from '../flow/deque.js';

interface EventBase {
  /** Epoch milliseconds. */
  readonly at: number;
}

interface RunEventBase extends EventBase {
  readonly runId: string;
  readonly agent: string;
  readonly correlationId: string;
}

/**
 * Everything the board reports. `kind` says which.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * void (async () => {
 *   for await (const event of board.events()) if (event.kind === 'failed') console.error(event.agent, event.error.message);
 * })();
 * ```
 */
export type BoardEvent =
  | (EventBase & {
      readonly kind: 'published';
      readonly artifactId: string;
      readonly type: string;
      readonly producedBy: string;
      readonly correlationId: string;
    })
  | (RunEventBase & { readonly kind: 'scheduled'; readonly inputIds: readonly string[] })
  | (RunEventBase & { readonly kind: 'started' })
  | (RunEventBase & { readonly kind: 'retrying'; readonly attempt: number; readonly error: ErrorSummary })
  | (RunEventBase & { readonly kind: 'finished'; readonly durationMs: number; readonly outputs: number })
  | (RunEventBase & { readonly kind: 'failed'; readonly durationMs: number; readonly attempts: number; readonly error: ErrorSummary })
  | (RunEventBase & { readonly kind: 'cancelled'; readonly reason: string })
  /** A run reported progress through `ctx.reportProgress` (a model's streamed tokens or partial answer). */
  | (RunEventBase & { readonly kind: 'progress'; readonly detail: unknown })
  /** A run reported resources it used through `ctx.reportUsage` (a model's tokens): what this report added. */
  | (RunEventBase & { readonly kind: 'usage'; readonly usage: Readonly<Record<string, number>> })
  | (EventBase & {
      readonly kind: 'skipped';
      readonly agent: string;
      readonly correlationId: string;
      readonly inputIds: readonly string[];
      readonly reason: string;
    })
  | (EventBase & { readonly kind: 'blocked'; readonly type: string; readonly producedBy: string; readonly reason: string })
  | (EventBase & { readonly kind: 'idle' })
  | (EventBase & { readonly kind: 'lagged'; readonly dropped: number })
  /** The board itself failed at something (its store threw, say); `operation` says what. */
  | (EventBase & { readonly kind: 'error'; readonly operation: string; readonly agent?: string; readonly error: ErrorSummary });

/**
 * The kinds of {@link BoardEvent}.
 *
 * @example
 * ```ts
 * import type { BoardEventKind } from 'skein/board';
 * const terminal: BoardEventKind[] = ['finished', 'failed', 'cancelled'];
 * ```
 */
export type BoardEventKind = BoardEvent['kind'];

/**
 * Options of `board.events()`.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * const events = board.events({ bufferSize: 256, signal: AbortSignal.timeout(10_000) });
 * ```
 */
export interface EventStreamOptions {
  /** How many events this subscriber may have waiting before the oldest are dropped (default 4096). */
  readonly bufferSize?: number;
  /** Ends the iteration when it aborts. */
  readonly signal?: AbortSignal;
  /**
   * Receives each event synchronously as the board emits it, instead of the iterator buffering it:
   * for a consumer that must not cost the board a promise per event (a server). The iterator then
   * yields nothing and ends when the board shuts down or `signal` aborts. The listener must be quick
   * and must not throw (what it throws is ignored).
   */
  readonly onEvent?: (event: BoardEvent) => void;
}

class Subscriber implements AsyncIterableIterator<BoardEvent> {
  readonly #buffer = new Deque<BoardEvent>();
  readonly #capacity: number;
  #dropped = 0;
  #done = false;
  #waiting: ((result: IteratorResult<BoardEvent>) => void) | undefined;
  readonly #detach: () => void;
  readonly #removeAbort: () => void;
  readonly #listener: ((event: BoardEvent) => void) | undefined;

  constructor(capacity: number, signal: AbortSignal | undefined, detach: (subscriber: Subscriber) => void, listener?: (event: BoardEvent) => void) {
    this.#capacity = capacity;
    this.#listener = listener;
    this.#detach = () => detach(this);
    // Aborting means "stop now": what is buffered is dropped. Shutdown (end()) lets it drain.
    this.#removeAbort = onAbort(signal, () => void this.return());
  }

  push(event: BoardEvent): void {
    if (this.#done) return;
    if (this.#listener !== undefined) {
      try {
        this.#listener(event);
      } catch {
        // A listener's failure must not break the board's emitting.
      }
      return;
    }
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.#buffer.length >= this.#capacity) {
      this.#buffer.shift();
      this.#dropped++;
    }
    this.#buffer.push(event);
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#removeAbort();
    this.#detach();
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<BoardEvent>> {
    if (this.#dropped > 0) {
      const dropped = this.#dropped;
      this.#dropped = 0;
      return Promise.resolve({ value: { kind: 'lagged', at: Date.now(), dropped }, done: false });
    }
    const event = this.#buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  return(): Promise<IteratorResult<BoardEvent>> {
    this.end();
    this.#buffer.clear();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Fans events out to subscribers. Building an event costs nothing when nobody listens. */
export class EventHub {
  readonly #subscribers = new Set<Subscriber>();
  #closed = false;

  get listening(): boolean {
    return this.#subscribers.size > 0;
  }

  emit(event: BoardEvent): void {
    for (const subscriber of this.#subscribers) subscriber.push(event);
  }

  subscribe(options: EventStreamOptions | undefined): AsyncIterableIterator<BoardEvent> {
    assertOptions(options);
    const bufferSize = options?.bufferSize ?? 4096;
    assertInteger(bufferSize, 'bufferSize', { min: 1 });
    assertSignal(options?.signal);
    if (options?.onEvent !== undefined && typeof options.onEvent !== 'function') throw new TypeError('onEvent must be a function');
    const subscriber = new Subscriber(bufferSize, options?.signal, (s) => this.#subscribers.delete(s), options?.onEvent);
    if (this.#closed || options?.signal?.aborted) subscriber.end();
    else this.#subscribers.add(subscriber);
    return subscriber;
  }

  /** Ends every subscriber's iteration after what it has buffered. */
  close(): void {
    this.#closed = true;
    for (const subscriber of [...this.#subscribers]) subscriber.end();
  }
}
