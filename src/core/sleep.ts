import { AbortFanout } from './signal.js';
import { assertDuration, assertOptions, assertSignal } from './validate.js';

/** Options for {@link sleep}. */
export interface SleepOptions {
  /** Stops the sleep early: the promise rejects with the signal's reason and the timer is cleared. */
  readonly signal?: AbortSignal;
}

/**
 * Every sleep's abort listener, one per signal: a thousand retries backing off under one shutdown
 * signal (or a board workflow's) add one listener to it, not a thousand, and Node does not warn
 * `MaxListenersExceededWarning`. An entry lives while a sleep waits on its signal, no longer.
 */
const sleeps = new AbortFanout();

/**
 * Waits `ms` milliseconds. Aborting `signal` rejects at once with the signal's reason and clears the
 * timer, so nothing is left behind. `sleep(Infinity, { signal })` waits until the signal aborts.
 * The timer is created through the global `setTimeout` at call time, so fake timers control it.
 *
 * @example
 * ```ts
 * import { sleep } from 'skein';
 * await sleep(10);
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 5);
 * await sleep(60_000, { signal: controller.signal }).catch((error) => console.log(error.name)); // 'AbortError'
 * ```
 */
export function sleep(ms: number, options?: SleepOptions): Promise<void> {
  assertDuration(ms, 'ms', { allowInfinity: true });
  assertOptions(options);
  const signal = options?.signal;
  assertSignal(signal);
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  if (ms === Infinity && signal === undefined) {
    throw new RangeError('sleep(Infinity) needs a signal, or it would never end');
  }
  return new Promise<void>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const removeListener = sleeps.add(signal, () => {
      if (timer !== undefined) clearTimeout(timer);
      reject(signal!.reason as unknown);
    });
    if (ms !== Infinity) {
      timer = setTimeout(() => {
        removeListener();
        resolve();
      }, ms);
    }
  });
}
