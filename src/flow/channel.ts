/**
 * A channel between producers and consumers, as in Go or Kotlin: a bounded buffer where `send`
 * waits while it is full and `receive` waits while it is empty, so a fast producer is held to the
 * pace of its consumers (backpressure) and memory stays bounded.
 */
import { assertInteger, assertOptions, assertSignal } from '../core/validate.js';
import { Deque } from './deque.js';
import { WaitQueue, type Waiter } from './wait-queue.js';

/**
 * A send on a closed channel, or a receive on one that is closed and drained.
 *
 * @example
 * ```ts
 * import { Channel, ChannelClosedError } from 'skein';
 * const channel = new Channel<number>(1);
 * channel.close();
 * await channel.send(1).catch((error) => console.log(error instanceof ChannelClosedError)); // true
 * ```
 */
export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';

  constructor(message = 'the channel is closed', options?: ErrorOptions) {
    super(message, options);
  }
}

/** Options for {@link Channel.send} and {@link Channel.receive}. */
export interface ChannelWaitOptions {
  /** Stops waiting: the promise rejects with the signal's reason; a send's value is not delivered. */
  readonly signal?: AbortSignal;
}

/** What {@link Channel.tryReceive} returns: a value, or why there was none. */
export type TryReceiveResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly closed: boolean };

interface SendWaiter<T> extends Waiter {
  readonly value: T;
  resolve: () => void;
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

interface ReceiveWaiter<T> extends Waiter {
  /** True for an iterator's `next()`, which ends with `{ done: true }` instead of rejecting. */
  readonly iterating: boolean;
  resolve: (value: T | IteratorResult<T>) => void;
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

const noop = (): void => {};

/**
 * A bounded FIFO channel. `send` resolves once the value is buffered (or, with capacity 0, taken by
 * a receiver: a rendezvous); `receive` resolves with the next value. `close()` makes further sends
 * fail with {@link ChannelClosedError}, rejects the sends still waiting, and lets receivers drain what
 * is buffered before their iteration ends. Every wait takes a `signal`.
 *
 * A channel is an async iterable; several consumers may iterate it at once, each value going to one
 * of them. Leaving a `for await` loop early does not close the channel (other consumers may remain).
 *
 * @example
 * ```ts
 * import { Channel } from 'skein';
 * const channel = new Channel<number>(2);
 * const producer = (async () => {
 *   for (let i = 1; i <= 5; i++) await channel.send(i);
 *   channel.close();
 * })();
 * let sum = 0;
 * for await (const value of channel) sum += value;
 * await producer;
 * console.log(sum); // 15
 * ```
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #buffer = new Deque<T>();
  readonly #senders = new WaitQueue<SendWaiter<T>>();
  readonly #receivers = new WaitQueue<ReceiveWaiter<T>>();
  #closed = false;
  readonly #sent = Promise.resolve();

  /** @param capacity how many values the channel buffers (an integer >= 0; 0, the default, is a rendezvous). */
  constructor(capacity = 0) {
    assertInteger(capacity, 'capacity', { min: 0, allowInfinity: true });
    this.#capacity = capacity;
  }

  /** How many values the channel buffers. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many values are buffered now. */
  get size(): number {
    return this.#buffer.length;
  }

  /** True once `close()` was called (values may still be buffered). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `value`: resolves at once if a receiver is waiting or the buffer has room, otherwise once
   * room appears. Rejects with {@link ChannelClosedError} if the channel is (or gets) closed first,
   * or with the signal's reason if `signal` aborts first; the value is then not delivered.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<string>(1);
   * await channel.send('first'); // buffered
   * const second = channel.send('second'); // waits: the buffer is full
   * console.log(await channel.receive()); // 'first'
   * await second;
   * ```
   */
  send(value: T, options?: ChannelWaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      assertOptions(options);
      signal = options.signal;
      assertSignal(signal);
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    }
    if (this.#closed) return Promise.reject(new ChannelClosedError('cannot send on a closed channel'));
    if (this.#offer(value)) return this.#sent;
    return new Promise<void>((resolve, reject) => {
      this.#senders.pushAbortable({ done: false, value, resolve, reject, cleanup: noop }, signal);
    });
  }

  /**
   * Sends `value` only if that needs no wait (a receiver is waiting or the buffer has room).
   * Returns whether it was sent; throws {@link ChannelClosedError} on a closed channel.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<number>(1);
   * console.log(channel.trySend(1), channel.trySend(2)); // true false
   * ```
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError('cannot send on a closed channel');
    return this.#offer(value);
  }

  /**
   * Receives the next value: at once if one is buffered (or, with capacity 0, a sender waits),
   * otherwise when one is sent. Rejects with {@link ChannelClosedError} once the channel is closed
   * and drained, or with the signal's reason if `signal` aborts first.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<number>();
   * const received = channel.receive();
   * await channel.send(7); // a rendezvous: resolves once the receiver has it
   * console.log(await received); // 7
   * ```
   */
  receive(options?: ChannelWaitOptions): Promise<T> {
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      assertOptions(options);
      signal = options.signal;
      assertSignal(signal);
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    }
    if (this.#buffer.length > 0 || this.#senders.size > 0) return Promise.resolve(this.#takeAvailable());
    if (this.#closed) return Promise.reject(new ChannelClosedError('the channel is closed and drained'));
    return this.#waitForValue(false, signal) as Promise<T>;
  }

  /**
   * Receives a value only if that needs no wait. `closed` tells a drained closed channel from an
   * empty open one.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<number>(1);
   * channel.trySend(1);
   * console.log(channel.tryReceive()); // { ok: true, value: 1 }
   * console.log(channel.tryReceive()); // { ok: false, closed: false }
   * ```
   */
  tryReceive(): TryReceiveResult<T> {
    if (this.#buffer.length > 0 || this.#senders.size > 0) return { ok: true, value: this.#takeAvailable() };
    return { ok: false, closed: this.#closed };
  }

  /**
   * Closes the channel: later sends fail, sends still waiting reject with {@link ChannelClosedError},
   * buffered values can still be received, and receivers waiting on an empty channel are ended.
   * Idempotent.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<number>(4);
   * await channel.send(1);
   * channel.close();
   * console.log(await channel.receive()); // 1: buffered values drain first
   * await channel.receive().catch((error) => console.log(error.name)); // 'ChannelClosedError'
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sender of this.#senders.drain()) {
      sender.done = true;
      sender.cleanup();
      sender.reject(new ChannelClosedError('the channel was closed before the value was sent'));
    }
    for (const receiver of this.#receivers.drain()) {
      receiver.done = true;
      receiver.cleanup();
      if (receiver.iterating) receiver.resolve({ done: true, value: undefined });
      else receiver.reject(new ChannelClosedError('the channel is closed and drained'));
    }
  }

  /**
   * Iterates the values until the channel is closed and drained.
   *
   * @example
   * ```ts
   * import { Channel } from 'skein';
   * const channel = new Channel<string>(2);
   * await channel.send('a');
   * await channel.send('b');
   * channel.close();
   * const seen: string[] = [];
   * for await (const value of channel) seen.push(value);
   * console.log(seen); // ['a', 'b']
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    let ended = false;
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (ended) return Promise.resolve({ done: true, value: undefined });
        if (this.#buffer.length > 0 || this.#senders.size > 0) {
          return Promise.resolve({ done: false, value: this.#takeAvailable() });
        }
        if (this.#closed) {
          ended = true;
          return Promise.resolve({ done: true, value: undefined });
        }
        return this.#waitForValue(true, undefined) as Promise<IteratorResult<T>>;
      },
      return: (): Promise<IteratorResult<T>> => {
        ended = true;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** Gives `value` to a waiting receiver or buffers it; false when neither is possible now. */
  #offer(value: T): boolean {
    const receiver = this.#receivers.shift();
    if (receiver !== undefined) {
      receiver.done = true;
      receiver.cleanup();
      receiver.resolve(receiver.iterating ? { done: false, value } : value);
      return true;
    }
    if (this.#buffer.length < this.#capacity) {
      this.#buffer.push(value);
      return true;
    }
    return false;
  }

  /** Takes the next value, which exists: from the buffer (refilled from a waiting sender) or a sender. */
  #takeAvailable(): T {
    const sender = this.#senders.shift();
    if (this.#buffer.length === 0) {
      // Capacity 0 (or a drained buffer): the value passes straight from the sender.
      sender!.done = true;
      sender!.cleanup();
      sender!.resolve();
      return sender!.value;
    }
    const value = this.#buffer.shift() as T;
    if (sender !== undefined) {
      sender.done = true;
      sender.cleanup();
      this.#buffer.push(sender.value);
      sender.resolve();
    }
    return value;
  }

  #waitForValue(iterating: boolean, signal: AbortSignal | undefined): Promise<T | IteratorResult<T>> {
    return new Promise<T | IteratorResult<T>>((resolve, reject) => {
      this.#receivers.pushAbortable({ done: false, iterating, resolve, reject, cleanup: noop }, signal);
    });
  }
}
