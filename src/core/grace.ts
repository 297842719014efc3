/**
 * The grace period: how long a combinator that aborted its children waits for them to settle before
 * it settles anyway. A child that ignores its signal cannot hold its caller hostage; it is reported as
 * a straggler, and its late outcome is absorbed so it never becomes an unhandled rejection.
 */
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
