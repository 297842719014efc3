/**
 * The machinery every combinator shares: one AbortController for the children it starts, linked to
 * the caller's signal by a single listener; an optional deadline; the grace period once children were
 * told to stop; and a single `finish()` that removes every timer and listener before the outcome is
 * delivered. Subclasses decide what a child's outcome means (gather collects, race takes the first,
 * a scope records failures) and what the final outcome is.
 *
 * Invariant: `finish()` runs exactly once, either when no child is pending and the subclass has closed
 * the supervisor, or when the grace period after `stop()` ran out (the stragglers are reported).
 */
import { TimeoutError } from './errors.js';
import { DEFAULT_GRACE_MS, reportStragglers, startGrace, validateGrace, type GraceOptions } from './grace.js';
import { deadlineOf, onAbort, setDeadline } from './signal.js';
import { armTimer } from './timer.js';
import { isThenable, type Task } from './task.js';
import { assertDuration, assertKnownOptions, assertOptions, assertSignal, describe } from './validate.js';

/** Options every supervising combinator accepts. */
export interface SupervisorOptions extends GraceOptions {
  /** The caller's cancellation: aborting it aborts every child and rejects with its reason. */
  readonly signal?: AbortSignal;
  /** Milliseconds from now after which unfinished children are aborted with a `TimeoutError`. */
  readonly timeout?: number;
}

/** The option names every supervising combinator reads. */
export const SUPERVISOR_OPTIONS = ['signal', 'timeout', 'graceMs', 'onStraggler'] as const;

export function validateSupervisorOptions(
  options: SupervisorOptions | undefined,
  owner: string,
  known: readonly string[] = SUPERVISOR_OPTIONS,
): void {
  assertOptions(options);
  if (options === undefined) return;
  assertKnownOptions(options, known, owner);
  assertSignal(options.signal);
  if (options.timeout !== undefined) assertDuration(options.timeout, 'timeout', { allowInfinity: true });
  validateGrace(options);
}

export function validateDeadline(deadline: unknown): void {
  if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) {
    throw new RangeError(`deadline must be a timestamp in epoch milliseconds, got ${describe(deadline)}`);
  }
}

const noop = (): void => {};

export abstract class Supervisor {
  readonly controller = new AbortController();
  /** Children started and not yet settled. */
  pending = 0;
  /** True once the children were told to stop (failure, deadline, caller, or the subclass's choice). */
  stopping = false;
  /** Why they were told to stop. */
  stopReason: unknown = undefined;
  /** True when the caller's signal aborted; the outcome is then its reason. */
  cancelledByCaller = false;
  /** True when the deadline passed; `stopReason` is then the `TimeoutError`. */
  timedOut = false;
  /** True once no further child will be started, so `pending === 0` means done. */
  closed = false;
  /** True once `finish()` ran. Late outcomes of stragglers are ignored after it. */
  finished = false;
  /** The absolute deadline (epoch ms) of this supervisor, inherited from the caller's signal when earlier. */
  deadline: number | undefined = undefined;

  readonly #operation: string;
  readonly #graceMs: number;
  readonly #onStraggler: GraceOptions['onStraggler'];
  #parent: AbortSignal | undefined;
  /** Removes the link to the caller's signal (shared with every other link on it: see onAbort). */
  #unlinkParent: (() => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  #cancelGrace: () => void = noop;

  constructor(operation: string, options: SupervisorOptions | undefined) {
    this.#operation = operation;
    this.#graceMs = options?.graceMs ?? DEFAULT_GRACE_MS;
    this.#onStraggler = options?.onStraggler;
  }

  /**
   * Links to the caller's signal and arms the deadline. Returns false when the caller's signal had
   * already aborted: the subclass must then settle without starting anything.
   */
  begin(signal: AbortSignal | undefined, timeoutMs: number | undefined, deadline?: number): boolean {
    if (signal !== undefined) {
      if (signal.aborted) {
        this.cancelledByCaller = true;
        this.stopping = true;
        this.stopReason = signal.reason;
        this.controller.abort(signal.reason);
        return false;
      }
      this.#parent = signal;
      this.#unlinkParent = onAbort(signal, () => this.#onCallerAbort());
    }
    let own = deadline === Infinity ? undefined : deadline;
    let label = 'at its deadline';
    if (timeoutMs !== undefined && timeoutMs !== Infinity) {
      const fromTimeout = Date.now() + timeoutMs;
      if (own === undefined || fromTimeout <= own) {
        own = fromTimeout;
        label = `after ${timeoutMs} ms`;
      }
    }
    const inherited = deadlineOf(signal);
    // A deadline inherited from the caller needs no timer here: the caller's signal aborts with its
    // TimeoutError, which reaches the children through the link.
    if (own !== undefined && (inherited === undefined || own < inherited)) {
      this.deadline = own;
      const delay = Math.max(0, own - Date.now());
      this.#cancelTimer = armTimer(delay, () => {
        this.#cancelTimer = undefined;
        this.timedOut = true;
        this.stop(new TimeoutError(`${this.#operation === 'timeout' ? 'the task' : this.#operation} timed out ${label}`));
        this.check();
      });
    } else {
      this.deadline = inherited;
    }
    if (this.deadline !== undefined) setDeadline(this.controller.signal, this.deadline);
    return true;
  }

  /** Calls `task` with the children's signal and routes its outcome to the subclass. */
  startChild(task: Task<unknown>, index: number): void {
    this.pending++;
    let value: unknown;
    try {
      value = task(this.controller.signal);
    } catch (error) {
      this.pending--;
      this.onRejected(index, error);
      return;
    }
    if (value instanceof Promise || isThenable(value)) {
      (value instanceof Promise ? value : Promise.resolve(value)).then(
        (result: unknown) => {
          this.pending--;
          this.onFulfilled(index, result);
        },
        (error: unknown) => {
          this.pending--;
          this.onRejected(index, error);
        },
      );
    } else {
      this.pending--;
      this.onFulfilled(index, value);
    }
  }

  /** A child fulfilled. Called after `pending` was decremented; must end with `check()`. */
  abstract onFulfilled(index: number, value: unknown): void;
  /** A child rejected. Called after `pending` was decremented; must end with `check()`. */
  abstract onRejected(index: number, error: unknown): void;
  /** Delivers the outcome. Called once, after every timer and listener was removed. */
  abstract complete(): void;

  /** Tells every child to stop. The first reason wins; later calls do nothing. */
  stop(reason: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    this.#clearTimer();
    this.controller.abort(reason);
    if (this.pending > 0 && !this.finished) {
      this.#cancelGrace = startGrace(this.#graceMs, () => {
        this.#cancelGrace = noop;
        reportStragglers(
          { operation: this.#operation, pending: this.pending, graceMs: this.#graceMs, reason },
          this.#onStraggler,
        );
        this.finish();
      });
    }
  }

  /** Finishes when the supervisor is closed and no child is pending. */
  check(): void {
    if (this.pending === 0 && this.closed) this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.#clearTimer();
    this.#cancelGrace();
    this.#cancelGrace = noop;
    if (this.#unlinkParent !== undefined) {
      this.#unlinkParent();
      this.#unlinkParent = undefined;
    }
    this.complete();
  }

  #onCallerAbort(): void {
    this.#unlinkParent = undefined;
    if (this.finished) return;
    this.cancelledByCaller = true;
    this.stop(this.#parent!.reason);
    this.check();
  }

  #clearTimer(): void {
    if (this.#cancelTimer !== undefined) {
      this.#cancelTimer();
      this.#cancelTimer = undefined;
    }
  }
}
