/**
 * Idle detection: counted, never polled. When the counters reach zero the idle transition runs once
 * (onIdle components, then the `idle` event, then waiters), in a microtask so that a run ending and
 * its outputs' runs starting in the same tick do not make the board look idle in between.
 */
import { TimeoutError } from '../../core/errors.js';
import { onAbort } from '../../core/signal.js';
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
    this.#scheduled = true;
    queueMicrotask(() => this.#ctx.spawn(() => this.#becomeIdle()));
  }

  /** True when idle and no transition is pending: `runUntilIdle()` may resolve at once. */
  get settled(): boolean {
    return this.#ctx.counters.isIdle() && !this.#scheduled && !this.#ctx.counters.busy;
  }

  async #becomeIdle(): Promise<void> {
    const ctx = this.#ctx;
    try {
      if (!ctx.counters.isIdle() || ctx.closed) return;
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
      if (this.#waiters.size > 0 && ctx.counters.isIdle() && !ctx.closed) this.check();
    }
  }

  waitIdle(options: WaitOptions | undefined): Promise<void> {
    return this.wait(this.#waiters, options, () => `the board was not idle after ${options?.timeoutMs} ms`, () => this.check());
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
