/**
 * The resilience layer: retry with backoff and jitter, circuit breakers, timeouts, bulkheads and
 * fallbacks as policies that compose with `wrap`.
 */
export { type Backoff, constant, firstDelays } from './backoff.js';
export { exponential, type ExponentialOptions, type Jitter } from './exponential.js';
import { EventEmitter as Emitter } from './event.js';
export { Emitter };
export type { Event, EventOptions, Listener, Subscription } from './event.js';
/**
 * The former name of {@link Emitter}.
 *
 * @deprecated Use {@link Emitter}: `EventEmitter` clashed with `node:events` in editors' auto-import.
 */
export const EventEmitter = Emitter;
/** @deprecated Use {@link Emitter}. */
export type EventEmitter<T> = Emitter<T>;
export { type Policy, type PolicyTask, type PolicyContext, type ExecuteOptions } from './policy.js';
export {
  retry,
  isRetryableByDefault,
  type RetryOptions,
  type RetryPolicyOptions,
  type RetryInfo,
  type GiveUpInfo,
  type RetryTask,
  type RetryContext,
} from './retry.js';
export { retryPolicy, type RetryPolicy } from './retry-policy.js';
export { BrokenCircuitError } from './broken-circuit-error.js';
export type { BreakerPolicy, BreakerTracker } from './breaker-policy.js';
export { consecutive } from './consecutive.js';
export { failureRate, type FailureRateOptions } from './failure-rate.js';
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitBreakerSnapshot,
  type CircuitState,
  type StateChange,
  type Isolation,
} from './circuit-breaker.js';
export { timeoutPolicy, type TimeoutPolicy } from './timeout-policy.js';
export { bulkhead, type Bulkhead, type BulkheadOptions } from './bulkhead.js';
export { fallback, type FallbackOptions, type FallbackFunction } from './fallback.js';
export { wrap, type AlternativeOf } from './wrap.js';
