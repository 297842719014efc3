/**
 * Idle detection: counted, never polled. When the counters reach zero the idle transition runs once
 * (onIdle components, then the `idle` event, then waiters), in a microtask so that a run ending and
 * its outputs' runs starting in the same tick do not make the board look idle in between. Sharing
 * the store with other boards, the transition also needs the store's answer (`store.pending()`),
 * asked when this process is idle and again at each poll while someone waits.
 */
import { TimeoutError } from '../../core/errors.js';
import { onAbort } from '../../core/signal.js';
import { isThenable } from '../../core/task.js';
import { BoardClosedError } from '../errors.js';
import type { WaitOptions } from '../workflow.js';
import type { Settler } from './live.js';
import type { Pipeline } from './pipeline.js';

export class Idle {
  readonly #ctx: Pipeline;
  readonly #waiters = new Set<Settler>();
  #scheduled = false;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  check(): void {
    if (this.#scheduled || !this.#ctx.counters.isIdle()) return;
    // Sharing the store, idle is the store's answer: asked only when someone waits for it or listens.
    if (this.#ctx.shared !== undefined && this.#waiters.size === 0 && !(this.#ctx.counters.busy && this.#announced())) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#ctx.spawn(() => this.#becomeIdle()));
  }

  /** True when idle and no transition is pending: `runUntilIdle()` may resolve at once (never when sharing the store). */
  get settled(): boolean {
    return this.#ctx.shared === undefined && this.#ctx.counters.isIdle() && !this.#scheduled && !this.#ctx.counters.busy;
  }

  /** Someone hears of an idle transition (an `idle` event subscriber, an `onIdle` component). */
  #announced(): boolean {
    return this.#ctx.events.listening || this.#ctx.components.some((component) => component.onIdle !== undefined);
  }

  /** Someone waits for idle. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /** Sharing the store: nothing queued (but in paused workflows) or running anywhere, no gate waiting on a deadline. */
  async #storeIdle(): Promise<boolean> {
    const ctx = this.#ctx;
    try {
      const answer = ctx.store.pending();
      const pending = isThenable(answer) ? await answer : answer;
      return pending.queued === 0 && pending.running === 0 && pending.timedGates === 0;
    } catch (error) {
      if (!ctx.closed) ctx.internalError('asking the store whether it is idle', undefined, error);
      return false;
    }
  }

  async #becomeIdle(): Promise<void> {
    const ctx = this.#ctx;
    try {
      if (!ctx.counters.isIdle() || ctx.closed) return;
      // The next poll asks again when the store still has work (other boards'); each answer is a snapshot.
      if (ctx.shared !== undefined && (!(await this.#storeIdle()) || !ctx.counters.isIdle() || ctx.closed)) return;
      if (ctx.counters.busy) {
        // Again while the hooks made work that was already done when they returned (a synchronous
        // store and body can finish a run within one await): that work's idle is a transition too.
        while (ctx.counters.busy) {
          ctx.counters.busy = false;
          for (const component of ctx.components) {
            if (component.onIdle === undefined) continue;
            try {
              await component.onIdle();
            } catch {
              // An idle hook's failure must not wedge idle detection.
            }
          }
          if (!ctx.counters.isIdle() || ctx.closed) return;
        }
        if (ctx.events.listening) ctx.events.emit({ kind: 'idle', at: Date.now() });
      }
      for (const waiter of this.#waiters) waiter.resolve();
      this.#waiters.clear();
    } finally {
      this.#scheduled = false;
      if (ctx.shared === undefined && this.#waiters.size > 0 && ctx.counters.isIdle() && !ctx.closed) this.check();
    }
  }

  waitIdle(options: WaitOptions | undefined): Promise<void> {
    return this.wait(this.#waiters, options, () => `the board was not idle after ${options?.timeoutMs} ms`, () => {
      this.#ctx.shared?.waiting();
      this.check();
    });
  }

  /** Waits in `set` until resolved, with the options' timeout and signal; `arm` runs once the waiter is in. */
  wait(set: Set<Settler>, options: WaitOptions | undefined, timeoutMessage: () => string, arm: () => void): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        set.delete(waiter);
        removeAbort();
        if (timer !== undefined) clearTimeout(timer);
      };
      const waiter: Settler = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (reason) => {
          done();
          reject(reason);
        },
      };
      const removeAbort = onAbort(signal, () => waiter.reject(signal!.reason));
      if (options?.timeoutMs !== undefined) timer = setTimeout(() => waiter.reject(new TimeoutError(timeoutMessage())), options.timeoutMs);
      set.add(waiter);
      arm();
    });
  }

  /** Rejects every idle waiter: the board is shutting down. */
  failAll(): void {
    for (const waiter of this.#waiters) waiter.reject(new BoardClosedError());
    this.#waiters.clear();
  }
}
