/**
 * A {@link CircuitBreaker} refused a call: it is open (recent calls failed), half-open with every
 * probe slot taken, or isolated by hand. The task was never called. `retry` never retries it by
 * default: retrying into an open breaker only spends the backoff waiting to be refused again.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, BrokenCircuitError } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 5_000 });
 * await breaker.execute(() => { throw new Error('down'); }).catch(() => {});
 * const error = await breaker.execute(() => 'never called').catch((e: unknown) => e);
 * console.log(error instanceof BrokenCircuitError, (error as BrokenCircuitError).retryAfterMs <= 5_000); // true true
 * ```
 */
export class BrokenCircuitError extends Error {
  override readonly name = 'BrokenCircuitError';
  /** True when the breaker was held open by `isolate()` rather than opened by failures. */
  readonly isolated: boolean;
  /**
   * How long until the breaker lets a probe through, in ms: 0 when it is half-open (probe slots
   * are full; one may free up any moment), `Infinity` while isolated.
   */
  readonly retryAfterMs: number;

  constructor(
    message = 'the circuit breaker is open',
    { isolated = false, retryAfterMs = 0, ...options }: ErrorOptions & { isolated?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message, options);
    this.isolated = isolated;
    this.retryAfterMs = retryAfterMs;
  }
}
