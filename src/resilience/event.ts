/**
 * A tiny typed event, after cockatiel's `Event`: an event is a function you call with a listener,
 * and what it returns is the subscription, a `Disposable`. No string names, no `EventEmitter`
 * inheritance, nothing to forget to remove: `using` removes it at the end of the block.
 */

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
 * A subscription to an {@link Event}. `dispose()` (or `using`) removes the listener; idempotent.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type Subscription } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(3) });
 * const subscription: Subscription = breaker.onFailure((error) => console.error(error));
 * subscription.dispose();
 * ```
 */
export interface Subscription extends Disposable {
  dispose(): void;
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
export type Event<T> = (listener: Listener<T>) => Subscription;

/**
 * The sending side of an {@link Event}. Owners keep the emitter private and expose `emitter.event`.
 * Listeners run synchronously in subscription order; one that subscribes or unsubscribes while an
 * event is being delivered changes the next delivery, not the current one. A listener that throws
 * does not stop the others nor the operation that fired the event: its error is rethrown from a
 * microtask, so it surfaces as an uncaught exception instead of vanishing.
 *
 * @example
 * ```ts
 * import { Emitter } from 'skein';
 * const emitter = new Emitter<number>();
 * const got: number[] = [];
 * const subscription = emitter.event((n) => got.push(n));
 * emitter.emit(1);
 * subscription.dispose();
 * emitter.emit(2);
 * console.log(got, emitter.size); // [1] 0
 * ```
 */
export class EventEmitter<T> {
  // Copy-on-write: `emit` iterates whatever array it read, so (un)subscribing mid-delivery is safe.
  #listeners: readonly { readonly listener: Listener<T> }[] = [];

  /** Subscribes a listener; see {@link Event}. */
  readonly event: Event<T> = (listener) => {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, got ${listener === null ? 'null' : typeof listener}`);
    }
    const entry = { listener };
    this.#listeners = [...this.#listeners, entry];
    let subscribed = true;
    const dispose = (): void => {
      if (!subscribed) return;
      subscribed = false;
      this.#listeners = this.#listeners.filter((other) => other !== entry);
    };
    return { dispose, [Symbol.dispose]: dispose };
  };

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.length;
  }

  /** Calls every listener with `value`. */
  emit(value: T): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!.listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
