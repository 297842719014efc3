import { CancelledError } from '../core/errors.js';

/** Options for {@link ShutdownError}. */
export interface ShutdownErrorOptions extends ErrorOptions {
  /** The signal that asked the process to stop, if a signal did. */
  readonly signal?: NodeJS.Signals;
}

/**
 * The reason {@link main} aborts its root signal with: the process is shutting down, because of a
 * signal (`signal` says which) or because of an uncaught error (`cause` holds it).
 *
 * It is a {@link CancelledError}, so its `name` is `'AbortError'` and `isCancellation` recognises
 * it: shutting down is stopping on purpose, not a failure, and every skein combinator, `fetch` and
 * Node's own APIs treat it that way. Test `instanceof ShutdownError` to tell it from other
 * cancellations.
 *
 * @example
 * ```ts
 * import { ShutdownError } from 'skein/node';
 * import { isCancellation } from 'skein';
 * import assert from 'node:assert/strict';
 * const reason = new ShutdownError('received SIGTERM', { signal: 'SIGTERM' });
 * assert.equal(reason.signal, 'SIGTERM');
 * assert.equal(isCancellation(reason), true);
 * ```
 */
export class ShutdownError extends CancelledError {
  /** The signal that started the shutdown, or `undefined` when an uncaught error did. */
  readonly signal: NodeJS.Signals | undefined;

  constructor(message = 'the process is shutting down', options?: ShutdownErrorOptions) {
    super(message, options);
    this.signal = options?.signal;
  }
}
