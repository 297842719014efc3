/**
 * Timers of any length. `setTimeout` holds a delay in a signed 32-bit integer: beyond 2^31-1 ms
 * (about 24.8 days) Node fires after 1 ms with a `TimeoutOverflowWarning`, and browsers fire at once.
 * Every timer skein arms goes through {@link armTimer}, which waits in chunks of at most that long,
 * counting down what remains (not re-reading the clock, so a clock that jumps cannot make it spin).
 */
import { MAX_TIMER_MS } from './validate.js';

/**
 * Calls `onExpired` after `ms` milliseconds, however long that is, and returns the function that
 * cancels it (idempotent). The timer is made through the global `setTimeout` at call time, so fake
 * timers control it.
 *
 * @example
 * ```ts
 * import { armTimer } from './timer.js';
 * const cancel = armTimer(30 * 24 * 3_600_000, () => console.log('a month later'));
 * cancel(); // nothing is left pending
 * ```
 */
export function armTimer(ms: number, onExpired: () => void): () => void {
  if (ms <= MAX_TIMER_MS) {
    const timer = setTimeout(onExpired, ms);
    return () => clearTimeout(timer);
  }
  let remaining = ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = (): void => {
    const chunk = Math.min(remaining, MAX_TIMER_MS);
    remaining -= chunk;
    timer = setTimeout(remaining > 0 ? arm : onExpired, chunk);
  };
  arm();
  return () => clearTimeout(timer);
}
