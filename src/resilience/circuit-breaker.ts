/**
 * `CircuitBreaker`: stop calling a dependency that keeps failing, so it can recover and callers fail
 * fast instead of piling up. Closed, calls go through and a {@link BreakerPolicy} weighs their
 * outcomes; when it says so the breaker opens, and every call is refused at once with a
 * {@link BrokenCircuitError} for `openMs` (or the next delay of a backoff, for repeated openings).
 * Then it is half-open: up to `halfOpenMaxCalls` probe calls go through; `halfOpenSuccesses` of them (1
 * by default) succeeding closes it, the first to fail opens it again. `toJSON()` and the `restore`
 * option carry the state across processes and restarts.
 *
 * No timer is kept: the move from open to half-open happens when the breaker is next used or read
 * after the delay has passed, so an idle breaker holds nothing and keeps no process alive. A call's
 * outcome counts only toward the state it started in: a slow call that started while closed and fails
 * after the breaker opened cannot extend or confuse the next half-open test.
 */
import { isCancellation, setSuppressedErrors } from '../core/errors.js';
import { isThenable } from '../core/task.js';
import { assertDuration, assertFunction, assertInteger, assertKnownOptions, assertOptions, describe } from '../core/validate.js';
import { assertBackoff, nextDelay, type Backoff } from './backoff.js';
import type { BreakerPolicy, BreakerTracker } from './breaker-policy.js';
import { BrokenCircuitError } from './broken-circuit-error.js';
import { EventEmitter, type Event } from './event.js';
import { neverAbortedSignal } from '../core/signal.js';
import { FIRST_ATTEMPT, assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyTask } from './policy.js';

/**
 * The three states of a {@link CircuitBreaker}. An isolated breaker is `'open'`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type CircuitState } from 'skein';
 * const state: CircuitState = new CircuitBreaker({ policy: consecutive(3) }).state;
 * console.log(state); // 'closed'
 * ```
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A breaker's state as plain JSON, from {@link CircuitBreaker.toJSON}, to store and pass back as the
 * `restore` option. The policy's recent counts and `isolate()` holds are not part of it: a restored
 * breaker starts its count afresh, and an isolated breaker is saved as it will be once released
 * (closed).
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type CircuitBreakerSnapshot } from 'skein';
 * const saved: CircuitBreakerSnapshot = { state: 'open', openUntil: Date.now() + 5_000 };
 * const breaker = new CircuitBreaker({ policy: consecutive(3), restore: saved });
 * console.log(breaker.state); // 'open'
 * ```
 */
export interface CircuitBreakerSnapshot {
  readonly state: CircuitState;
  /** When an open breaker lets probes through (epoch ms); present when `state` is `'open'`. */
  readonly openUntil?: number;
}

/**
 * Options for {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, failureRate, exponential, type CircuitBreakerOptions } from 'skein';
 * const options: CircuitBreakerOptions = {
 *   policy: failureRate({ threshold: 0.5, minCalls: 20, windowMs: 30_000 }),
 *   backoff: exponential({ initialMs: 1_000, maxMs: 60_000, jitter: 'none' }),
 *   halfOpenMaxCalls: 2,
 *   isFailure: (error) => !(error instanceof RangeError),
 * };
 * const breaker = new CircuitBreaker(options);
 * ```
 */
export interface CircuitBreakerOptions {
  /** When to open: {@link consecutive} or {@link failureRate}, or a policy of your own. */
  readonly policy: BreakerPolicy;
  /** How long the breaker stays open before it lets probes through, in ms. Default 10 000. */
  readonly openMs?: number;
  /**
   * Instead of `openMs`: the open time of each successive opening without a close in between
   * (`exponential({ initialMs: 1_000, maxMs: 60_000 })`), so a dependency that stays down is probed
   * less and less often. When it runs out, its last delay is kept. A close starts it over.
   */
  readonly backoff?: Backoff;
  /** How many probe calls may run at once while half-open. Default 1. */
  readonly halfOpenMaxCalls?: number;
  /**
   * How many probe calls must succeed, while half-open, before the breaker closes (default 1). Any
   * probe that fails (as `isFailure` counts it) opens it again. With `halfOpenMaxCalls` this samples
   * a recovering dependency: let N calls through, close after M successes.
   */
  readonly halfOpenSuccesses?: number;
  /**
   * A state saved with {@link CircuitBreaker.toJSON} (by another process, or before a restart): the
   * breaker starts in it, so a fleet or a restarted service does not hammer a dependency that is
   * known to be down. An open state whose `openUntil` has passed starts half-open.
   */
  readonly restore?: CircuitBreakerSnapshot;
  /**
   * Whether an error counts as a failure. Default: every error but a cancellation (a caller giving
   * up says nothing about the dependency). An error it rejects counts as neither success nor failure.
   */
  readonly isFailure?: (error: unknown) => boolean;
}

/**
 * What {@link CircuitBreaker.onStateChange} fires with.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type StateChange } from 'skein';
 * const changes: StateChange[] = [];
 * const breaker = new CircuitBreaker({ policy: consecutive(1) });
 * breaker.onStateChange((change) => changes.push(change));
 * await breaker.execute(() => { throw new Error('x'); }).catch(() => {});
 * console.log(changes); // [{ from: 'closed', to: 'open' }]
 * ```
 */
export interface StateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
}

/**
 * Totals since the breaker was made, and what its policy is weighing now. All are >= 0.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type CircuitBreakerStats } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(3) });
 * await breaker.execute(() => 'ok');
 * const stats: CircuitBreakerStats = breaker.stats;
 * console.log(stats.successes, stats.failures); // 1 0
 * ```
 */
export interface CircuitBreakerStats {
  /** Calls that succeeded. */
  readonly successes: number;
  /** Calls that failed (errors `isFailure` accepted). */
  readonly failures: number;
  /** Calls refused with a {@link BrokenCircuitError}. */
  readonly rejections: number;
  /** Times the breaker opened (by failures or by `isolate()`). */
  readonly openings: number;
  /** Probe calls running now (half-open only). */
  readonly probes: number;
  /** Calls the policy is weighing now (closed only; 0 otherwise). */
  readonly recentCalls: number;
  /** Failures among them. */
  readonly recentFailures: number;
}

/**
 * A hold on an isolated breaker; see {@link CircuitBreaker.isolate}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type Isolation } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(3) });
 * const hold: Isolation = breaker.isolate();
 * hold.release();
 * console.log(breaker.state); // 'closed'
 * ```
 */
export interface Isolation extends Disposable {
  /** Lets go of this hold; the breaker closes when the last hold is released. Idempotent. */
  release(): void;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN;
const NAMES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/** The settle handlers of one period (one stretch of closed or half-open state). */
interface Period {
  readonly generation: number;
  readonly probe: boolean;
  readonly ok: (value: unknown) => unknown;
  readonly fail: (error: unknown) => never;
}

const BREAKER_OPTIONS = ['policy', 'openMs', 'backoff', 'halfOpenMaxCalls', 'halfOpenSuccesses', 'isFailure', 'restore'];
const SNAPSHOT_KEYS = ['state', 'openUntil'];

const defaultIsFailure = (error: unknown): boolean => !isCancellation(error);

/**
 * A circuit breaker. See the module comment for the state machine.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, BrokenCircuitError } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(2), openMs: 30_000 });
 * const flaky = async () => { throw new Error('503'); };
 * await breaker.execute(flaky).catch(() => {});
 * await breaker.execute(flaky).catch(() => {});
 * console.log(breaker.state); // 'open'
 * const refused = await breaker.execute(flaky).catch((error: unknown) => error);
 * console.log(refused instanceof BrokenCircuitError); // true: flaky was not called
 * ```
 */
export class CircuitBreaker implements Policy {
  readonly #policy: BreakerTracker;
  readonly #openMs: number;
  readonly #backoff: Backoff | undefined;
  readonly #halfOpenMaxCalls: number;
  readonly #halfOpenSuccesses: number;
  /** Probes that succeeded in this half-open period. */
  #probeSuccesses = 0;
  readonly #isFailure: (error: unknown) => boolean;

  #state: StateCode = CLOSED;
  #generation = 0;
  #period: Period;
  #openUntil = 0;
  #openDelays: Iterator<number> | undefined;
  #lastOpenMs = 0;
  #probes = 0;
  #isolations = 0;

  #successes = 0;
  #failures = 0;
  #rejections = 0;
  #openings = 0;

  readonly #stateChange = new EventEmitter<StateChange>('a CircuitBreaker onStateChange');
  readonly #reject = new EventEmitter<BrokenCircuitError>('a CircuitBreaker onReject');
  readonly #success = new EventEmitter<void>('a CircuitBreaker onSuccess');
  readonly #failure = new EventEmitter<unknown>('a CircuitBreaker onFailure');

  /** Fires on every transition, with the states before and after. */
  readonly onStateChange: Event<StateChange> = this.#stateChange.event;
  /** Fires when a call is refused, with the {@link BrokenCircuitError} it is rejected with. */
  readonly onReject: Event<BrokenCircuitError> = this.#reject.event;
  /** Fires when a call succeeds. */
  readonly onSuccess: Event<void> = this.#success.event;
  /** Fires when a call fails in a way that counts (see `isFailure`), with its error. */
  readonly onFailure: Event<unknown> = this.#failure.event;

  constructor(options: CircuitBreakerOptions) {
    assertOptions(options);
    if (options === undefined) throw new TypeError('CircuitBreaker needs options: { policy, openMs?, backoff?, halfOpenMaxCalls?, isFailure? }');
    assertKnownOptions(options, BREAKER_OPTIONS, 'CircuitBreaker');
    const { policy, openMs, backoff, halfOpenMaxCalls = 1, halfOpenSuccesses = 1, isFailure = defaultIsFailure, restore } = options;
    if (typeof (policy as Partial<BreakerPolicy> | undefined)?.create !== 'function') {
      throw new TypeError('policy must be a breaking policy such as consecutive(5) or failureRate({ threshold: 0.5 })');
    }
    if (openMs !== undefined && backoff !== undefined) {
      throw new TypeError('give openMs or backoff, not both');
    }
    if (openMs !== undefined) assertDuration(openMs, 'openMs');
    if (backoff !== undefined) {
      assertBackoff(backoff, 'backoff', { reusable: true });
      if (nextDelay(backoff[Symbol.iterator](), 'backoff') === undefined) {
        throw new RangeError('backoff must yield at least one delay');
      }
    }
    assertInteger(halfOpenMaxCalls, 'halfOpenMaxCalls', { min: 1 });
    assertInteger(halfOpenSuccesses, 'halfOpenSuccesses', { min: 1 });
    assertFunction(isFailure, 'isFailure');
    if (restore !== undefined) assertSnapshot(restore);
    this.#policy = policy.create();
    this.#openMs = openMs ?? 10_000;
    this.#backoff = backoff;
    this.#halfOpenMaxCalls = halfOpenMaxCalls;
    this.#halfOpenSuccesses = halfOpenSuccesses;
    this.#isFailure = isFailure;
    if (restore?.state === 'open') {
      this.#state = OPEN;
      this.#openUntil = restore.openUntil!;
      this.#lastOpenMs = Math.max(0, this.#openUntil - Date.now());
    } else if (restore?.state === 'half-open') {
      this.#state = HALF_OPEN;
    }
    this.#period = this.#newPeriod(this.#state === HALF_OPEN);
  }

  /**
   * The state as plain JSON (`JSON.stringify(breaker)` calls it), to save and pass back as the
   * `restore` option of a new breaker. See {@link CircuitBreakerSnapshot} for what it leaves out.
   *
   * @example
   * ```ts
   * import { CircuitBreaker, consecutive } from 'skein';
   * const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 30_000 });
   * await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
   * const saved = JSON.stringify(breaker); // {"state":"open","openUntil":...}
   * const restored = new CircuitBreaker({ policy: consecutive(1), restore: JSON.parse(saved) });
   * console.log(restored.state); // 'open'
   * ```
   */
  toJSON(): CircuitBreakerSnapshot {
    this.#refresh();
    if (this.#isolations > 0) return { state: 'closed' };
    if (this.#state === OPEN) return { state: 'open', openUntil: this.#openUntil };
    return { state: NAMES[this.#state]! };
  }

  /** The current state. Reading it after the open delay has passed moves the breaker to half-open. */
  get state(): CircuitState {
    this.#refresh();
    return NAMES[this.#state]!;
  }

  /** True while at least one {@link isolate} hold is in place. */
  get isolated(): boolean {
    return this.#isolations > 0;
  }

  /** Counters; see {@link CircuitBreakerStats}. */
  get stats(): CircuitBreakerStats {
    this.#refresh();
    const closed = this.#state === CLOSED;
    return {
      successes: this.#successes,
      failures: this.#failures,
      rejections: this.#rejections,
      openings: this.#openings,
      probes: this.#probes,
      recentCalls: closed ? this.#policy.calls : 0,
      recentFailures: closed ? this.#policy.failures : 0,
    };
  }

  /**
   * Runs `task` through the breaker: at once when closed, as a probe when half-open and a probe slot
   * is free, and not at all otherwise: the call rejects at once with a {@link BrokenCircuitError}.
   * The task receives the caller's signal itself. A signal already aborted rejects with its reason
   * and counts for nothing.
   *
   * @example
   * ```ts
   * import { CircuitBreaker, consecutive } from 'skein';
   * const breaker = new CircuitBreaker({ policy: consecutive(5) });
   * const controller = new AbortController();
   * const body = await breaker.execute(async (signal) => (signal === controller.signal ? 'same signal' : '?'), {
   *   signal: controller.signal,
   * });
   * console.log(body); // 'same signal'
   * ```
   */
  execute<T>(task: PolicyTask<T>, options?: ExecuteOptions): Promise<T> {
    assertFunction(task, 'task');
    assertExecuteOptions(options);
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason as unknown);
    if (this.#state !== CLOSED) {
      this.#refresh();
      if (this.#state === OPEN || this.#probes >= this.#halfOpenMaxCalls) return this.#refuse();
      if (this.#state === HALF_OPEN) this.#probes++;
    }
    const period = this.#period;
    let result: T | PromiseLike<T>;
    try {
      result = task(signal ?? neverAbortedSignal(), options?.context ?? FIRST_ATTEMPT);
    } catch (error) {
      return Promise.reject(this.#settle(period, true, error) ?? afterAbort(signal, error));
    }
    if (!isThenable(result)) {
      this.#settle(period, false, undefined);
      return signal !== undefined && hasAborted(signal) ? Promise.reject(signal.reason as unknown) : Promise.resolve(result);
    }
    if (signal === undefined) return Promise.resolve(result).then(period.ok as (value: T) => T, period.fail);
    // The abort-after-finish rule: once the caller aborted, the call rejects with its reason; the
    // outcome still counts for the breaker, since it says how the service is doing.
    return Promise.resolve(result).then(
      (value) => {
        period.ok(value);
        if (signal.aborted) throw signal.reason;
        return value;
      },
      (error: unknown) => {
        throw this.#settle(period, true, error) ?? afterAbort(signal, error);
      },
    );
  }

  /**
   * Holds the breaker open by hand (maintenance, a known outage): every call is refused with a
   * {@link BrokenCircuitError} whose `isolated` is true, until every hold is released; then the
   * breaker closes with a clean slate.
   *
   * @example
   * ```ts
   * import { CircuitBreaker, consecutive } from 'skein';
   * const breaker = new CircuitBreaker({ policy: consecutive(5) });
   * {
   *   using _hold = breaker.isolate();
   *   console.log(breaker.state, breaker.isolated); // 'open' true
   * }
   * console.log(breaker.state); // 'closed'
   * ```
   */
  isolate(): Isolation {
    if (++this.#isolations === 1 && this.#state !== OPEN) {
      this.#openings++;
      this.#transition(OPEN);
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      if (--this.#isolations === 0) this.#transition(CLOSED);
    };
    return { release, [Symbol.dispose]: release };
  }

  #newPeriod(probe: boolean): Period {
    const period: Period = {
      generation: this.#generation,
      probe,
      ok: (value) => {
        this.#settle(period, false, undefined);
        return value;
      },
      fail: (error) => {
        throw this.#settle(period, true, error) ?? error;
      },
    };
    return period;
  }

  /**
   * Records how a call that started in `period` ended. Returns the error of an `isFailure` that
   * threw (the call must then reject with it; the task's error stays reachable through
   * `suppressedErrors`), else undefined. A predicate that throws counts the call as a failure.
   */
  #settle(period: Period, failed: boolean, error: unknown): unknown {
    let counts = true;
    let predicateFailure: unknown;
    if (failed) {
      try {
        counts = this.#isFailure(error);
      } catch (thrown) {
        predicateFailure = thrown ?? new TypeError('isFailure threw undefined');
        setSuppressedErrors(predicateFailure, [error]);
      }
    }
    if (!failed) {
      this.#successes++;
      this.#success.emit();
    } else if (counts) {
      this.#failures++;
      this.#failure.emit(error);
    }
    // A stale call (its period ended while it ran) counts in the totals but not toward any state.
    if (period.generation !== this.#generation) return predicateFailure;
    if (this.#state === CLOSED) {
      if (!failed) this.#policy.success();
      else if (counts && this.#policy.failure()) this.#open();
    } else if (this.#state === HALF_OPEN) {
      this.#probes--;
      if (!failed) {
        if (++this.#probeSuccesses >= this.#halfOpenSuccesses) this.#transition(CLOSED);
      } else if (counts) {
        this.#open();
      }
    }
    return predicateFailure;
  }

  #refresh(): void {
    if (this.#state === OPEN && this.#isolations === 0 && Date.now() >= this.#openUntil) {
      this.#transition(HALF_OPEN);
    }
  }

  #refuse(): Promise<never> {
    this.#rejections++;
    const isolated = this.#isolations > 0;
    const retryAfterMs = isolated ? Infinity : this.#state === OPEN ? Math.max(0, this.#openUntil - Date.now()) : 0;
    const error = new BrokenCircuitError(
      isolated ? 'the circuit breaker is isolated' : this.#state === OPEN ? 'the circuit breaker is open' : 'the circuit breaker is half-open and its probe slots are taken',
      { isolated, retryAfterMs },
    );
    this.#reject.emit(error);
    return Promise.reject(error);
  }

  #open(): void {
    let openMs = this.#openMs;
    if (this.#backoff !== undefined) {
      this.#openDelays ??= this.#backoff[Symbol.iterator]();
      openMs = nextDelay(this.#openDelays, 'backoff') ?? this.#lastOpenMs;
      this.#lastOpenMs = openMs;
    }
    this.#openUntil = Date.now() + openMs;
    this.#openings++;
    this.#transition(OPEN);
  }

  #transition(to: StateCode): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#probes = 0;
    this.#probeSuccesses = 0;
    this.#policy.reset();
    if (to === CLOSED) {
      this.#openDelays?.return?.();
      this.#openDelays = undefined;
    }
    this.#period = this.#newPeriod(to === HALF_OPEN);
    if (from !== to) this.#stateChange.emit({ from: NAMES[from]!, to: NAMES[to]! });
  }
}

function assertSnapshot(value: unknown): asserts value is CircuitBreakerSnapshot {
  assertOptions(value, 'restore');
  assertKnownOptions(value, SNAPSHOT_KEYS, 'restore');
  const { state, openUntil } = value as { state?: unknown; openUntil?: unknown };
  if (!NAMES.includes(state as CircuitState)) {
    throw new TypeError(`restore.state must be 'closed', 'open' or 'half-open', got ${describe(state)}`);
  }
  if (state === 'open' ? typeof openUntil !== 'number' || !Number.isFinite(openUntil) : openUntil !== undefined) {
    throw new TypeError(`restore.openUntil must be an epoch time in ms when state is 'open', and absent otherwise, got ${describe(openUntil)}`);
  }
}

/** Reads `aborted` afresh (a task may abort its caller's signal while it runs). */
function hasAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** What a call rejects with when its task failed: the caller's abort reason once it aborted. */
function afterAbort(signal: AbortSignal | undefined, error: unknown): unknown {
  return signal?.aborted === true ? signal.reason : error;
}
