/**
 * One Ctrl-C, counted once. Under `npm start` a keypress reaches the CLI more than once: the terminal
 * signals the whole foreground process group (npm, tsx and the CLI), and npm and tsx each relay the
 * signal to their child as well (tsx does so when the child has not acknowledged it within 30 ms, as
 * happens on a busy machine). Taken at face value, the relayed copy is a "second Ctrl-C" and `main`
 * exits without waiting for the shutdown or printing the summary.
 *
 * A copy follows the original within tens of milliseconds; a person who presses Ctrl-C again because
 * the shutdown takes too long does so after reading the screen. So a signal that repeats within
 * {@link DUPLICATE_SIGNAL_WINDOW_MS} of the last one that counted is taken as the same keypress; a
 * later one counts, and a second Ctrl-C still exits at once.
 */
import type { MainProcess } from 'skein/node';

/** Repeats of a signal within this long after the last one that counted are copies of it. */
export const DUPLICATE_SIGNAL_WINDOW_MS = 500;

/** Options of {@link coalesceSignals}. */
export interface CoalesceSignalsOptions {
  /** Default {@link DUPLICATE_SIGNAL_WINDOW_MS}. */
  readonly windowMs?: number;
  /** The clock, in ms (default `performance.now`, which never goes back). */
  readonly now?: () => number;
}

/**
 * Wraps `host` (the process, for `main`) so that each signal listener ignores repeats of its signal
 * that arrive within `windowMs` of the last one it was called for. Other events pass unchanged.
 *
 * @example
 * ```ts
 * import { main } from 'skein/node';
 * await main(async (signal) => { ... }, { process: coalesceSignals(process) });
 * ```
 */
export function coalesceSignals(host: MainProcess, options: CoalesceSignalsOptions = {}): MainProcess {
  const windowMs = options.windowMs ?? DUPLICATE_SIGNAL_WINDOW_MS;
  if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`windowMs must be a finite number >= 0, got ${windowMs}`);
  const now = options.now ?? (() => performance.now());
  const wrappers = new Map<(...args: unknown[]) => void, (...args: unknown[]) => void>();
  return {
    on(event, listener) {
      if (!event.startsWith('SIG')) return host.on(event, listener);
      let lastAt = -Infinity;
      const wrapper = (...args: unknown[]): void => {
        const at = now();
        if (at - lastAt < windowMs) return;
        lastAt = at;
        listener(...args);
      };
      wrappers.set(listener, wrapper);
      return host.on(event, wrapper);
    },
    off(event, listener) {
      const wrapper = wrappers.get(listener);
      if (wrapper === undefined) return host.off(event, listener);
      wrappers.delete(listener);
      return host.off(event, wrapper);
    },
  };
}
