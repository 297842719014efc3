/**
 * The grace period: how long a combinator that aborted its children waits for them to settle before
 * it settles anyway. A child that ignores its signal cannot hold its caller hostage; it is reported as
 * a straggler, and its late outcome is absorbed so it never becomes an unhandled rejection.
 */
import { isCancellation, setSuppressedErrors } from './errors.js';
import { assertDuration, assertFunction } from './validate.js';

/**
 * How long, by default, aborted children get to settle: long enough for a well-behaved task to close
 * a socket or roll back a transaction, short enough that a stuck one does not stall shutdown.
 * Pass `graceMs: Infinity` for strict structured concurrency (wait however long it takes).
 */
export const DEFAULT_GRACE_MS = 2_000;

/** What a combinator says about children still running when its grace period ran out. */
export interface StragglerReport {
  /** The combinator that gave up waiting: `'gather'`, `'scope'`, `'timeout'`, `'race'`, `'any'`, ... */
  readonly operation: string;
  /** How many children were still running. */
  readonly pending: number;
  /** The grace period that passed. */
  readonly graceMs: number;
  /** Why the children were aborted. */
  readonly reason: unknown;
}

/** Receives a {@link StragglerReport}. */
export type StragglerHandler = (report: StragglerReport) => void;

/** Options shared by every combinator that aborts children and waits for them. */
export interface GraceOptions {
  /** How long aborted children get to settle, in ms (default {@link DEFAULT_GRACE_MS}; `Infinity` waits forever). */
  readonly graceMs?: number;
  /**
   * Called when the grace period passes with children still running. By default a process warning
   * with code `SKEIN_STRAGGLER` is emitted.
   */
  readonly onStraggler?: StragglerHandler;
}

export function validateGrace(options: GraceOptions | undefined): void {
  if (options?.graceMs !== undefined) assertDuration(options.graceMs, 'graceMs', { allowInfinity: true });
  if (options?.onStraggler !== undefined) assertFunction(options.onStraggler, 'onStraggler');
}

/** Reports stragglers through `handler`, or as a process warning when there is none. */
export function reportStragglers(report: StragglerReport, handler: StragglerHandler | undefined): void {
  if (handler !== undefined) {
    try {
      handler(report);
    } catch {
      // A reporting hook must not turn a cancellation into a crash.
    }
    return;
  }
  const message =
    `skein: ${report.pending} task(s) of ${report.operation} ignored cancellation and were still running ` +
    `${report.graceMs} ms after it; the ${report.operation} settled without them`;
  globalThis.process?.emitWarning?.(message, { type: 'SkeinStragglerWarning', code: 'SKEIN_STRAGGLER' });
}

/**
 * Starts the grace timer. Returns the function that cancels it. With `graceMs: Infinity` no timer is
 * started and the caller waits for its children however long they take.
 */
export function startGrace(graceMs: number, onExpired: () => void): () => void {
  if (graceMs === Infinity) return () => {};
  const timer = setTimeout(onExpired, graceMs);
  return () => clearTimeout(timer);
}

/**
 * The fail-fast sequence shared by every combinator that stops its children on the first failure
 * (`map`, `mapIterable`, `TaskQueue.addAll`, the held slot of `Semaphore.run` and its kin, `every`):
 * record the failure and stop, abort the children, give them the grace period, report the stragglers
 * if it passes, and keep the genuine failures that came after the first as its suppressed errors.
 *
 * One instance per run. The owner decides when it is done (its children settled, its input closed)
 * and calls {@link FailFast.settle}; if the grace period passes first, `onExpired` is called instead
 * (once), after the stragglers were reported.
 */
export class FailFast {
  readonly #operation: string;
  readonly #grace: GraceOptions | undefined;
  #failure: { readonly error: unknown } | undefined;
  #abortReason: unknown;
  #suppressed: unknown[] | undefined;
  #stopGrace: (() => void) | undefined;
  #settled = false;

  constructor(operation: string, grace: GraceOptions | undefined) {
    this.#operation = operation;
    this.#grace = grace;
  }

  /** The failure the run settles with (boxed: `undefined` can be an error), once stopped. */
  get failure(): { readonly error: unknown } | undefined {
    return this.#failure;
  }

  /** What the children were aborted with. */
  get abortReason(): unknown {
    return this.#abortReason;
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.#failure !== undefined;
  }

  /** True once settled (by the owner or by the grace period). */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Stops: records `error` as the failure and aborts `controller` (the children's signal) with
   * `abortReason`. Returns false, and does nothing, when already stopped or settled.
   */
  stop(error: unknown, abortReason: unknown, controller?: AbortController): boolean {
    if (this.#failure !== undefined || this.#settled) return false;
    this.#failure = { error };
    this.#abortReason = abortReason;
    controller?.abort(abortReason);
    return true;
  }

  /**
   * Starts the grace period (unless settled already). When it passes first, the `pending()` children
   * still running are reported as stragglers and `onExpired` is called: the owner settles without them.
   */
  wait(pending: () => number, onExpired: () => void): void {
    if (this.#settled || this.#stopGrace !== undefined) return;
    const graceMs = this.#grace?.graceMs ?? DEFAULT_GRACE_MS;
    this.#stopGrace = startGrace(graceMs, () => {
      if (this.#settled) return;
      reportStragglers(
        { operation: this.#operation, pending: pending(), graceMs, reason: this.#abortReason },
        this.#grace?.onStraggler,
      );
      onExpired();
    });
  }

  /**
   * A child's failure that arrived after the stop: kept as a suppressed error unless it is the
   * failure itself, the abort reason, or a cancellation (the children's expected answer to the abort).
   */
  absorb(error: unknown): void {
    if (error === this.#abortReason || error === this.#failure?.error || isCancellation(error)) return;
    (this.#suppressed ??= []).push(error);
  }

  /**
   * Settles: cancels the grace period and attaches the suppressed errors to the failure. Returns
   * false when already settled.
   */
  settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#stopGrace?.();
    if (this.#failure !== undefined && this.#suppressed !== undefined) setSuppressedErrors(this.#failure.error, this.#suppressed);
    return true;
  }
}
