/**
 * Admission control across every board of a store: `maxActiveWorkflows`.
 *
 * The count lives in the store ({@link BoardStore.admitWorkflow}), so that boards sharing it (other
 * processes, many PostgreSQL workers) hold one limit together. A place is never handed back by the
 * board that took it: the store recounts admitted workflows from their work (runs queued or running,
 * timed gates), so a workflow that ends on another board, is cancelled, or whose board died frees its
 * place by itself, and a board that dies before storing an input frees its place when the
 * reservation lapses (`leaseMs`, the time other boards give a dead board's claims).
 *
 * In this process, starts wait in one FIFO queue and only its head asks the store, so waiting
 * callers cost a promise each and no store traffic. The head asks again when something may have
 * freed a place, never on a spin: a run of this board ended (its event), a workflow this board
 * admitted is done, the board polled the store or heard a store notice (shared mode: other boards'
 * work), or the instant the store named when a reservation lapses.
 */
import { TimeoutError } from '../core/errors.js';
import { onAbort } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import { WORK_ENDS } from './conditions.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { AdmissionAnswer } from './store/contract.js';

/** One start waiting for admission. */
interface Waiter {
  readonly id: string;
  readonly inputId: string;
  readonly admit: () => void;
  readonly fail: (reason: unknown) => void;
  /** Left the queue (admitted, aborted, timed out, board closed). */
  gone: boolean;
}

export class Admission {
  readonly max: number;
  readonly #ctx: Pipeline;
  /** Arrival order with O(1) removal from anywhere. */
  readonly #waiters = new Set<Waiter>();
  /** Workflows this board admitted and started, not done yet (for `stats()`). */
  readonly #active = new Set<string>();
  #asking = false;
  #again = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(ctx: Pipeline, max: number) {
    this.#ctx = ctx;
    this.max = max;
  }

  /** Workflows this board started that hold a place and are not done. */
  get active(): number {
    return this.#active.size;
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves once the store gave workflow `id` a place (then the caller stores its input, or gives the
   * place back with {@link giveBack}). Rejects with the signal's reason, a `TimeoutError` after
   * `timeoutMs`, what the store threw, or the reason of {@link failAll}, leaving the queue at once.
   */
  admit(id: string, inputId: string, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const leave = (): boolean => {
        if (waiter.gone) return false;
        waiter.gone = true;
        this.#waiters.delete(waiter);
        removeAbort();
        if (timer !== undefined) clearTimeout(timer);
        if (this.#waiters.size === 0) this.#stopWatching();
        return true;
      };
      const waiter: Waiter = {
        id,
        inputId,
        gone: false,
        admit: () => {
          if (leave()) resolve();
        },
        fail: (reason) => {
          if (leave()) reject(reason);
        },
      };
      const removeAbort = onAbort(signal, () => waiter.fail(signal!.reason));
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => waiter.fail(new TimeoutError(`no room for another workflow after ${timeoutMs} ms (maxActiveWorkflows ${this.max})`)), timeoutMs);
      }
      this.#waiters.add(waiter);
      if (this.#waiters.size === 1) this.#watch();
      this.wake();
    });
  }

  /** Workflow `id` was admitted and its input stored: it counts here until it is done. */
  started(id: string): void {
    this.#active.add(id);
    this.#ctx.workflows.waitDone(id, undefined).then(
      () => this.#ended(id),
      () => this.#ended(id),
    );
  }

  /** Gives back the place of a workflow whose input was not stored (its start failed or gave up). */
  async giveBack(id: string): Promise<void> {
    try {
      const released = this.#ctx.store.releaseWorkflowAdmission!(id);
      if (isThenable(released)) await released;
    } catch (error) {
      // The place lapses by itself after the reservation (leaseMs).
      if (!this.#ctx.closed) this.#ctx.internalError('giving back an admission', undefined, error);
    }
    this.wake();
  }

  /** Something may have freed a place: the head of the queue asks the store again. */
  wake(): void {
    if (this.#waiters.size > 0) void this.#ask();
  }

  /** Rejects every waiting start (shutdown). */
  failAll(reason: unknown): void {
    for (const waiter of [...this.#waiters]) waiter.fail(reason);
  }

  #ended(id: string): void {
    this.#active.delete(id);
    this.wake();
  }

  /** Asks the store for the head of the queue, then the next, until one is refused; never two asks at once. */
  async #ask(): Promise<void> {
    if (this.#asking) {
      this.#again = true;
      return;
    }
    this.#asking = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    try {
      do {
        this.#again = false;
        for (let head = first(this.#waiters); head !== undefined; head = first(this.#waiters)) {
          let answer: AdmissionAnswer;
          try {
            const asked = this.#ctx.store.admitWorkflow!({ correlationId: head.id, inputId: head.inputId, max: this.max, reserveMs: this.#ctx.leaseMs, now: Date.now() });
            answer = isThenable(asked) ? await asked : asked;
          } catch (error) {
            head.fail(error);
            continue;
          }
          if (answer.admitted) {
            if (head.gone) await this.giveBack(head.id);
            else head.admit();
            continue;
          }
          if (head.gone) continue;
          if (!this.#again) this.#retryAt(answer.retryAt);
          break;
        }
      } while (this.#again && this.#waiters.size > 0);
    } catch (error) {
      this.#ctx.internalError('admitting a workflow', undefined, error);
    } finally {
      this.#asking = false;
    }
  }

  /** A reservation lapses at `at` without any event: ask again then. */
  #retryAt(at: number | undefined): void {
    if (at === undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.wake();
    }, Math.max(0, at - Date.now()) + 1);
  }

  /** While starts wait: wake on this board's run ends, and (shared) on its polls and the store's notices. */
  #watch(): void {
    const ctx = this.#ctx;
    const events = ctx.events.subscribe({ onEvent: (event) => WORK_ENDS.has(event.kind) && this.wake() });
    const watcher = (): void => this.wake();
    if (ctx.shared !== undefined) {
      ctx.storeWatchers.add(watcher);
      ctx.shared.waiting();
    }
    this.#unwatch = () => {
      void events.return?.();
      ctx.storeWatchers.delete(watcher);
    };
  }

  #stopWatching(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}

function first<T>(set: Set<T>): T | undefined {
  const next = set.values().next();
  return next.done === true ? undefined : next.value;
}
