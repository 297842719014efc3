/**
 * The errors every skein module shares. Their `name`s follow the DOM convention, so code that already
 * checks `error.name === 'AbortError'` or `'TimeoutError'` recognises skein's errors without importing them.
 */

/**
 * The work was cancelled: its signal aborted because a sibling failed, a caller gave up or the
 * process is shutting down. Its `name` is `'AbortError'`, like the DOM's, and `cause` says why.
 *
 * @example
 * ```ts
 * import { CancelledError, gather } from 'skein';
 * try {
 *   await gather([() => { throw new Error('boom'); }, (signal) => new Promise((_, reject) =>
 *     signal.addEventListener('abort', () => reject(signal.reason)))]);
 * } catch (error) {
 *   // the first failure is reported; the sibling saw a CancelledError caused by it
 * }
 * const cancelled = new CancelledError('stopped by the user');
 * cancelled.name; // 'AbortError'
 * ```
 */
export class CancelledError extends Error {
  override readonly name = 'AbortError';

  constructor(message = 'the operation was cancelled', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A deadline passed before the work finished. Its `name` is `'TimeoutError'`, like the DOM's
 * `AbortSignal.timeout()` reason.
 *
 * @example
 * ```ts
 * import { timeout, sleep, TimeoutError } from 'skein';
 * await timeout((signal) => sleep(10_000, { signal }), 50).catch((error) => {
 *   if (error instanceof TimeoutError) console.log(error.message); // 'timed out after 50 ms'
 * });
 * ```
 */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(message = 'the operation timed out', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A task was spawned into a {@link TaskGroup} that is shutting down (it was cancelled or failed) or
 * already closed. The task was never called.
 *
 * @example
 * ```ts
 * import { scope, ScopeClosedError } from 'skein';
 * let saved!: import('skein').TaskGroup;
 * await scope((group) => { saved = group; });
 * await saved.spawn(() => 1).then(undefined, (error) => error instanceof ScopeClosedError); // true
 * ```
 */
export class ScopeClosedError extends Error {
  override readonly name = 'ScopeClosedError';

  constructor(message = 'cannot spawn into a task group that is closing or closed', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * True when `error` means "stopped on purpose" rather than "went wrong": a {@link CancelledError},
 * a DOM `AbortError` (what `controller.abort()` with no reason produces), or any error named
 * `'AbortError'`. A {@link TimeoutError} is not a cancellation: a deadline passing is a failure.
 *
 * @example
 * ```ts
 * import { isCancellation, CancelledError } from 'skein';
 * isCancellation(new CancelledError()); // true
 * const controller = new AbortController();
 * controller.abort();
 * isCancellation(controller.signal.reason); // true
 * isCancellation(new Error('boom')); // false
 * ```
 */
export function isCancellation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/**
 * True when `error` says a deadline passed, whoever set it: skein's {@link TimeoutError}, the
 * `DOMException` that `AbortSignal.timeout()` aborts with, or any error named `'TimeoutError'`
 * (undici's, for one). A cancellation is not a timeout.
 *
 * @example
 * ```ts
 * import { isTimeout, timeout, sleep } from 'skein';
 * const signal = AbortSignal.timeout(1);
 * const domTimeout = await sleep(1_000, { signal }).catch((error: unknown) => error);
 * const skeinTimeout = await timeout((s) => sleep(1_000, { signal: s }), 1).catch((error: unknown) => error);
 * console.log(isTimeout(domTimeout), isTimeout(skeinTimeout), isTimeout(new Error('x'))); // true true false
 * ```
 */
export function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
}

const suppressed = new WeakMap<object, readonly unknown[]>();

/** Records the other genuine failures that were suppressed in favour of `error`. */
export function setSuppressedErrors(error: unknown, others: readonly unknown[]): void {
  if (others.length > 0 && typeof error === 'object' && error !== null) suppressed.set(error, others);
}

/**
 * The other genuine failures that happened while a fail-fast combinator (such as `gather`) was
 * stopping, after `error`, the first one, which it rejected with. Cancellations caused by the stop
 * itself are not included. Empty when there were none.
 *
 * @example
 * ```ts
 * import { gather, suppressedErrors } from 'skein';
 * import assert from 'node:assert/strict';
 * const first = new Error('first');
 * const second = new Error('second, while cleaning up');
 * const error = await gather([
 *   async () => { throw first; },
 *   (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(second))),
 * ]).catch((e: unknown) => e);
 * assert.equal(error, first);
 * assert.deepEqual(suppressedErrors(error), [second]);
 * ```
 */
export function suppressedErrors(error: unknown): readonly unknown[] {
  return (typeof error === 'object' && error !== null && suppressed.get(error)) || [];
}
