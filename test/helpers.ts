/** Small helpers shared by test files. */
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach } from 'vitest';

/** A promise with its resolve and reject exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A task body that never finishes on its own: it rejects with the signal's reason when aborted. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** How many 'abort' listeners `signal` has right now. */
export function abortListenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Lets every queued microtask (and the microtasks they queue) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A gate the test opens: runs wait on it. */
export function gate(): { wait: (signal: AbortSignal) => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    open,
    wait: (signal) =>
      new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        void opened.then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      }),
  };
}

/**
 * Collects the process warnings emitted during each test of the calling file or `describe` block
 * (emptied before each test). Warnings are emitted on the next tick: await {@link nextTick} first.
 */
export function captureWarnings(): Error[] {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  return warnings;
}

/** Resolves on the next tick of the process (after what `process.nextTick` queued before it). */
export const nextTick = (): Promise<void> => new Promise<void>((resolve) => process.nextTick(resolve));
