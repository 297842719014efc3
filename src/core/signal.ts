/**
 * Linking a child's cancellation to its parent's. skein never uses `AbortSignal.any` on a signal that
 * may live long (a server's shutdown signal, say): each call adds a listener that is only released
 * when the parent itself is collected, so a loop of calls leaks. A link here is released the moment
 * the child's work is done, and however many links share a parent, the parent carries one listener
 * (see {@link AbortFanout}), so a thousand concurrent timeouts under one workflow's signal do not make
 * Node warn `MaxListenersExceededWarning`.
 */

/** A live link from a parent signal to a child controller. Dispose it when the child's work is done. */
export interface SignalLink extends Disposable {
  /** Removes the listener from the parent. Idempotent. */
  unlink(): void;
}

const noop = (): void => {};
const DEAD_LINK: SignalLink = { unlink: noop, [Symbol.dispose]: noop };

/**
 * Makes `child` abort, with the parent's reason, when `parent` aborts, until `unlink()` (or `using`)
 * removes the link. All the links (and skein's waits) on one parent share a single `abort` listener,
 * added with the first and removed with the last, so any number of concurrent links leave the parent
 * with one listener. Until it is unlinked the parent holds the child, as a listener would; nothing
 * else does. If `parent` is already aborted, `child` aborts at once and nothing is added.
 *
 * @example
 * ```ts
 * import { linkSignal } from 'skein';
 * const shutdown = new AbortController();
 * for (let i = 0; i < 3; i++) {
 *   const child = new AbortController();
 *   using _link = linkSignal(child, shutdown.signal);
 *   // ... work with child.signal; the link is removed at the end of each iteration
 * }
 * ```
 */
export function linkSignal(child: AbortController, parent: AbortSignal | undefined): SignalLink {
  if (parent === undefined) return DEAD_LINK;
  if (parent.aborted) {
    child.abort(parent.reason);
    return DEAD_LINK;
  }
  const unlink = links.add(parent, () => child.abort(parent.reason));
  return { unlink, [Symbol.dispose]: unlink };
}

/**
 * Registers `listener` on `signal` for the duration of one wait, and returns the function that
 * removes it (idempotent). Used by every wait and link in skein so that no listener outlives the wait
 * that added it; all of them share one `abort` listener per signal. The caller checks
 * `signal.aborted` first: an already aborted signal never calls `listener`.
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  return links.add(signal, listener);
}

/**
 * Absolute deadlines (epoch milliseconds) known for signals that skein created with one, so that a
 * nested scope or timeout can inherit the earliest of them. Weakly held: nothing is kept alive here.
 */
const deadlines = new WeakMap<AbortSignal, number>();

/** Records that `signal` will abort at `deadline` (epoch ms). */
export function setDeadline(signal: AbortSignal, deadline: number): void {
  deadlines.set(signal, deadline);
}

/**
 * The deadline (epoch milliseconds) a skein scope or timeout attached to `signal`, or `undefined`
 * when none is known. Lets code that talks to the outside world pass the remaining time on.
 *
 * @example
 * ```ts
 * import { scope, deadlineOf } from 'skein';
 * await scope(async (group) => {
 *   const remainingMs = (deadlineOf(group.signal) ?? Infinity) - Date.now();
 *   console.log(remainingMs <= 5_000); // true
 * }, { timeout: 5_000 });
 * ```
 */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal === undefined ? undefined : deadlines.get(signal);
}

let neverAborted: AbortSignal | undefined;

/**
 * The signal given to a task whose caller passed none. Creating an `AbortController` per call would
 * cost more than a fast call itself, so one signal that can never abort is shared (made on first use,
 * not at import). Because it can never fire, listeners added to it could only pile up (a task that
 * adds `{ once: true }` listeners and never removes them): this signal drops them instead of keeping
 * them, so sharing it cannot leak.
 */
export function neverAbortedSignal(): AbortSignal {
  if (neverAborted === undefined) {
    const signal = new AbortController().signal;
    Object.defineProperties(signal, {
      addEventListener: { value: (): void => {} },
      removeEventListener: { value: (): void => {} },
      onabort: { get: () => null, set: () => {} },
    });
    neverAborted = signal;
  }
  return neverAborted;
}

interface Fan {
  readonly listeners: Set<() => void>;
  readonly fire: () => void;
}

/**
 * One `abort` listener per signal for all the waits of one primitive instance. A server's shutdown
 * signal shared by a thousand waits on one limiter would otherwise carry a thousand listeners (and
 * make Node warn `MaxListenersExceededWarning` past ten): here the signal carries one listener, which
 * fans out to every wait registered on it, and which is removed when the last of them ends.
 *
 * @example
 * ```ts
 * import { AbortFanout } from './signal.js';
 * const fanout = new AbortFanout();
 * const shutdown = new AbortController();
 * const stopA = fanout.add(shutdown.signal, () => console.log('a'));
 * const stopB = fanout.add(shutdown.signal, () => console.log('b')); // still one listener
 * stopA();
 * shutdown.abort(); // logs 'b'
 * ```
 */
export class AbortFanout {
  /**
   * Made on the first wait with a signal: a primitive that never waits never pays for it. Weak, so
   * that the fan-out never keeps a signal alive: a signal and the waits registered on it (which it
   * reaches through its one listener) are collected together when nothing else holds the signal,
   * exactly as with listeners added to it directly, even when a wait is never removed.
   */
  #fans: WeakMap<AbortSignal, Fan> | undefined;

  /**
   * Calls `listener` when `signal` aborts; returns the function that forgets it (idempotent). The
   * caller checks `signal.aborted` first: an already aborted signal never fires.
   */
  add(signal: AbortSignal | undefined, listener: () => void): () => void {
    if (signal === undefined) return noop;
    const fans = (this.#fans ??= new WeakMap<AbortSignal, Fan>());
    let fan = fans.get(signal);
    if (fan === undefined) {
      const listeners = new Set<() => void>();
      const fire = (): void => {
        fans.delete(signal);
        for (const each of listeners) each();
        listeners.clear();
      };
      fan = { listeners, fire };
      fans.set(signal, fan);
      signal.addEventListener('abort', fire, { once: true });
    }
    const added = fan;
    // The same function may be registered twice: each registration gets a wrapper of its own.
    const entry = added.listeners.has(listener) ? (): void => listener() : listener;
    added.listeners.add(entry);
    return () => {
      if (!added.listeners.delete(entry) || added.listeners.size > 0) return;
      if (fans.get(signal) === added) {
        fans.delete(signal);
        signal.removeEventListener('abort', added.fire);
      }
    };
  }
}

/**
 * The links and waits of the core (`linkSignal`, `onAbort`, every supervisor's link to its caller):
 * one `abort` listener per parent signal for all of them. It holds no signal (see `#fans`): a child
 * stays reachable from its parent only until its link is removed, as with a listener of its own.
 */
const links = new AbortFanout();
