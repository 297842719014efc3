/**
 * Waiting for a condition over the board (`board.runUntil`). The condition is asked once at first,
 * then again after each board event it says may change its answer (a synchronous event listener on
 * the board's event hub: no buffer, no timer); sharing the store, also after each of the board's
 * polls of the store and each store notice, which is how it learns of other boards' work. Checks
 * never overlap: an event during a check asks for one more check after it. Everything it registers
 * (the event listener, the abort listeners, the timer, the poll watcher) is removed when it settles.
 */
import { TimeoutError } from '../core/errors.js';
import { onAbort } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import type { Condition, ConditionView } from './conditions.js';
import { BoardClosedError } from './errors.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { Pending } from './store/contract.js';

/**
 * Options of `board.runUntil()`.
 *
 * @example
 * ```ts
 * import { Board, idle } from 'skein/board';
 * await using board = new Board();
 * await board.runUntil(idle(), { timeoutMs: 30_000, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface RunUntilOptions {
  /** Reject with a `TimeoutError` naming the condition if it does not hold in time. */
  readonly timeoutMs?: number;
  /** Stop waiting (rejects with the signal's reason); the board goes on. */
  readonly signal?: AbortSignal;
}

async function pendingOf(ctx: Pipeline, correlationId?: string): Promise<Pending> {
  const answer = ctx.store.pending(correlationId === undefined ? undefined : { correlationId });
  return isThenable(answer) ? await answer : answer;
}

/** What conditions see, for the whole board (`correlationId` undefined) or one workflow (`.when`). */
export function conditionView(ctx: Pipeline, correlationId: string | undefined): ConditionView {
  return {
    store: ctx.store,
    correlationId,
    async idle() {
      if (!ctx.counters.isIdle()) return false;
      // Alone on its store the board's counters are the whole truth; sharing it, the store answers for the others.
      if (ctx.shared === undefined) return true;
      const pending = await pendingOf(ctx);
      return pending.queued === 0 && pending.running === 0 && pending.timedGates === 0 && ctx.counters.isIdle();
    },
    async workflowDone(id) {
      const wf = ctx.workflows.get(id);
      if (wf !== undefined && ctx.workflows.busy(wf)) return false;
      const pending = await pendingOf(ctx, id);
      if (pending.queued + pending.paused + pending.running + pending.timedGates > 0) return false;
      const again = ctx.workflows.get(id);
      return again === undefined || !ctx.workflows.busy(again);
    },
  };
}

/** Resolves once `condition` holds; rejects on timeout, abort, shutdown, or when the condition throws. */
export function runUntil(ctx: Pipeline, condition: Condition, options: RunUntilOptions | undefined): Promise<void> {
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  if (ctx.closed) return Promise.reject(new BoardClosedError());
  return new Promise<void>((resolve, reject) => {
    const view = conditionView(ctx, undefined);
    let settled = false;
    let checking = false;
    let again = false;
    const cleanups: (() => void)[] = [];
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      if (error === undefined) resolve();
      else reject(error);
    };
    const check = async (): Promise<void> => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          // After the event's emitter has finished its step (a run's end is counted right after its event).
          await Promise.resolve();
          if (settled) return;
          if (await condition.holds(view)) {
            finish();
            return;
          }
        } while (again && !settled);
      } catch (error) {
        finish(error);
      } finally {
        checking = false;
      }
    };
    const events = ctx.events.subscribe({
      onEvent: (event) => {
        if (!settled && condition.wakesOn(event)) void check();
      },
    });
    cleanups.push(() => void events.return?.());
    cleanups.push(onAbort(signal, () => finish(signal!.reason)));
    cleanups.push(onAbort(ctx.scope.signal, () => finish(new BoardClosedError())));
    if (options?.timeoutMs !== undefined) {
      const timer = setTimeout(() => finish(new TimeoutError(`${condition.description}: not so after ${options.timeoutMs} ms`)), options.timeoutMs);
      cleanups.push(() => clearTimeout(timer));
    }
    if (ctx.shared !== undefined) {
      // Other boards' work reaches this board through its polls and the store's notices only.
      const watcher = (): void => void check();
      ctx.storeWatchers.add(watcher);
      cleanups.push(() => ctx.storeWatchers.delete(watcher));
      ctx.shared.waiting();
    }
    void check();
  });
}
