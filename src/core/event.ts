/**
 * A tiny typed event, after cockatiel's `Event`: an event is a function you call with a listener,
 * and what it returns is the subscription. No string names, no `EventEmitter` inheritance, nothing to
 * forget to remove: the subscription is a function that unsubscribes and also a `Disposable`, so
 * `off()`, `subscription.dispose()` and `using` all work, and a `signal` can end it too. Every event
 * in skein (a breaker's `onStateChange`, a `TaskQueue`'s `on('idle')`) is delivered by this one type,
 * under one rule for a listener that throws (see {@link Emitter}).
 */
import { AbortFanout } from './signal.js';
import { assertFunction, assertKnownOptions, assertOptions, assertSignal } from './validate.js';

/**
 * Receives the value an {@link Event} fires with.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type Listener, type StateChange } from 'skein';
 * const log: Listener<StateChange> = ({ from, to }) => console.log(`breaker ${from} -> ${to}`);
 * new CircuitBreaker({ policy: consecutive(3) }).onStateChange(log);
 * ```
 */
export type Listener<T> = (value: T) => void;

/**
 * A subscription to an event. Calling it, `dispose()` or `using` removes the listener; idempotent.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type Subscription } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(3) });
 * const subscription: Subscription = breaker.onFailure((error) => console.error(error));
 * subscription.dispose(); // or subscription()
 * ```
 */
export interface Subscription extends Disposable {
  (): void;
  dispose(): void;
}

/**
 * Options of a subscription.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type EventOptions } from 'skein';
 * const controller = new AbortController();
 * const options: EventOptions = { signal: controller.signal };
 * new CircuitBreaker({ policy: consecutive(3) }).onFailure(console.error, options);
 * controller.abort(); // the listener is gone
 * ```
 */
export interface EventOptions {
  /** Aborting it removes the listener (at once, without subscribing, if it already has). */
  readonly signal?: AbortSignal;
}

/**
 * An event: call it with a listener to subscribe; the returned {@link Subscription} unsubscribes.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 1_000 });
 * const seen: string[] = [];
 * {
 *   using _subscription = breaker.onStateChange(({ to }) => seen.push(to));
 *   await breaker.execute(() => { throw new Error('down'); }).catch(() => {});
 * }
 * await breaker.execute(() => 1).catch(() => {}); // no listener any more
 * console.log(seen); // ['open']
 * ```
 */
export type Event<T> = (listener: Listener<T>, options?: EventOptions) => Subscription;

const EVENT_OPTIONS = ['signal'];

const noop = (): void => {};

/** What a subscription already ended (by an aborted signal) returns: nothing to remove. */
function endedSubscription(): Subscription {
  const ended = (() => {}) as Subscription;
  ended.dispose = noop;
  ended[Symbol.dispose] = noop;
  return ended;
}

/** How a {@link ListenerList} names itself and what it shares with its owner. */
export interface ListenerListOptions {
  /** The event in a report of a throwing listener: `a TaskQueue 'idle'`. */
  readonly name: string;
  /** The subscribing method in a refusal of bad options: `TaskQueue.on`. */
  readonly method: string;
  /** The owner's fan-out: one abort listener per signal among its subscriptions and waits. */
  readonly fanout?: AbortFanout;
  /** Called once the last listener is gone (an owner that keeps lists by name drops this one). */
  readonly onEmpty?: () => void;
}

/**
 * The listeners of one event, with any number of arguments: what {@link Emitter} and the
 * `TaskQueue`'s named events are built on. Listeners run synchronously in subscription order; one
 * that subscribes or unsubscribes while an event is delivered changes the next delivery, not the
 * current one (copy-on-write). A listener that throws is reported by {@link reportListenerError}.
 */
export class ListenerList<A extends unknown[]> {
  #listeners: readonly { readonly listener: (...args: A) => void }[] = [];
  readonly #name: string;
  readonly #method: string;
  readonly #fanout: AbortFanout | undefined;
  readonly #onEmpty: (() => void) | undefined;

  constructor(options: ListenerListOptions) {
    this.#name = options.name;
    this.#method = options.method;
    this.#fanout = options.fanout;
    this.#onEmpty = options.onEmpty;
  }

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.length;
  }

  /** Subscribes `listener` until the returned subscription is called or disposed, or `signal` aborts. */
  add(listener: (...args: A) => void, options: EventOptions | undefined): Subscription {
    assertFunction(listener, 'listener');
    assertOptions(options);
    assertKnownOptions(options, EVENT_OPTIONS, this.#method);
    const signal = options?.signal;
    assertSignal(signal);
    if (signal?.aborted === true) return endedSubscription();
    const entry = { listener };
    this.#listeners = [...this.#listeners, entry];
    let subscribed = true;
    let removeAbort = noop;
    const dispose = ((): void => {
      if (!subscribed) return;
      subscribed = false;
      removeAbort();
      this.#listeners = this.#listeners.filter((other) => other !== entry);
      if (this.#listeners.length === 0) this.#onEmpty?.();
    }) as Subscription;
    dispose.dispose = dispose;
    dispose[Symbol.dispose] = dispose;
    if (signal !== undefined) removeAbort = (this.#fanout ?? new AbortFanout()).add(signal, dispose);
    return dispose;
  }

  /** Calls every listener with `args`; one that throws is reported, and the others still run. */
  emit(...args: A): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!.listener(...args);
      } catch (error) {
        reportListenerError(this.#name, error);
      }
    }
  }
}

/**
 * The one rule for a listener that throws, everywhere in skein: it stops neither the other listeners
 * nor the operation that fired the event (a breaker's call, a queue's task), and it is not lost.
 * Under Node it is a process warning (`SkeinListenerWarning`, code `SKEIN_LISTENER_FAILED`, printed
 * to stderr unless handled), so that a logging listener's bug cannot crash a server; where there is
 * no `process` (browsers, workers) it goes to `reportError`, as a DOM event listener's does.
 */
export function reportListenerError(owner: string, error: unknown): void {
  const processLike = (globalThis as { process?: { emitWarning?: (warning: string, options: object) => void } }).process;
  if (typeof processLike?.emitWarning === 'function') {
    processLike.emitWarning(`skein: ${owner} listener threw: ${String(error)}`, {
      type: 'SkeinListenerWarning',
      code: 'SKEIN_LISTENER_FAILED',
      detail: error instanceof Error ? error.stack : undefined,
    });
    return;
  }
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') report(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}

/**
 * The sending side of an {@link Event}. Owners keep the emitter private and expose `emitter.event`.
 * Listeners run synchronously in subscription order; one that subscribes or unsubscribes while an
 * event is being delivered changes the next delivery, not the current one. A listener that throws
 * does not stop the others nor the operation that fired the event: it is reported as a process
 * warning (`SKEIN_LISTENER_FAILED`), or through `reportError` where there is no `process`.
 *
 * @example
 * ```ts
 * import { Emitter } from 'skein';
 * const emitter = new Emitter<number>();
 * const got: number[] = [];
 * const subscription = emitter.event((n) => got.push(n));
 * emitter.emit(1);
 * subscription(); // or subscription.dispose(), or `using`
 * emitter.emit(2);
 * console.log(got, emitter.size); // [1] 0
 * ```
 */
export class EventEmitter<T> {
  readonly #listeners: ListenerList<[T]>;

  /** `name` is how a report of a throwing listener names the event (default `an event`). */
  constructor(name = 'an event') {
    this.#listeners = new ListenerList<[T]>({ name, method: 'an event subscription' });
  }

  /** Subscribes a listener; see {@link Event}. */
  readonly event: Event<T> = (listener, options) => this.#listeners.add(listener, options);

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Calls every listener with `value`. */
  emit(value: T): void {
    // Checked here, before the rest-argument call: a breaker emits on every call, mostly to nobody.
    if (this.#listeners.size !== 0) this.#listeners.emit(value);
  }
}
