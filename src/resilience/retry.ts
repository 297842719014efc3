/**
 * `retry`: run a task again when it fails, waiting a backoff between attempts. The waits are
 * abortable (unlike cockatiel's, whose sleep ignores the signal), the final rejection is the task's
 * own last error (unlike wrappers that bury it in an aggregate), and a call that succeeds the first
 * time allocates no timer, no controller and no listener.
 */
import { isCancellation } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { isThenable } from '../core/task.js';
import { assertDuration, assertFunction, assertInteger, assertKnownOptions, assertOptions, assertSignal } from '../core/validate.js';
import { assertBackoff, nextDelay, type Backoff } from './backoff.js';
import { BrokenCircuitError } from './broken-circuit-error.js';
import { exponential } from './exponential.js';
import { neverAbortedSignal } from '../core/signal.js';
import { FIRST_ATTEMPT, type PolicyContext, type PolicyTask } from './policy.js';

const RETRY_OPTIONS = ['maxAttempts', 'maxElapsedMs', 'backoff', 'retryIf', 'retryIfResult', 'onRetry', 'onGiveUp', 'signal'];

/**
 * What a retried task is told: which attempt this is, counting from 1.
 *
 * @example
 * ```ts
 * import { retry, type RetryContext } from 'skein';
 * await retry((_signal, { attempt }: RetryContext) => attempt);
 * ```
 */
export type RetryContext = PolicyContext;

/**
 * A task that `retry` runs: it receives the signal to honour and the attempt number.
 *
 * @example
 * ```ts
 * import { retry, type RetryTask } from 'skein';
 * const load: RetryTask<string> = async (signal, { attempt }) => `loaded on attempt ${attempt}, aborted: ${signal.aborted}`;
 * console.log(await retry(load)); // 'loaded on attempt 1, aborted: false'
 * ```
 */
export type RetryTask<T> = PolicyTask<T>;

/**
 * What `onRetry` is told, before the wait that precedes the next attempt.
 *
 * @example
 * ```ts
 * import { retry, constant, type RetryInfo } from 'skein';
 * const log = ({ error, attempt, delayMs }: RetryInfo) => console.warn(`attempt ${attempt} failed (${String(error)}); retrying in ${delayMs} ms`);
 * let calls = 0;
 * await retry(() => { if (++calls < 2) throw new Error('flaky'); return calls; }, { onRetry: log, backoff: constant(1) });
 * ```
 */
export interface RetryInfo {
  /** The error the failed attempt rejected with (undefined when a value was retried: see `value`). */
  readonly error: unknown;
  /** The value a `retryIfResult` decided to retry, when that is why. */
  readonly value?: unknown;
  /** The attempt that failed, counting from 1. The next one is `attempt + 1`. */
  readonly attempt: number;
  /** How long retry will wait before the next attempt, in ms. */
  readonly delayMs: number;
  /** Time since the first attempt started, in ms. */
  readonly elapsedMs: number;
}

/**
 * How `retry` and `retryPolicy` decide whether, and when, to try again.
 *
 * @example
 * ```ts
 * import { retryPolicy, exponential, type RetryPolicyOptions } from 'skein';
 * const options: RetryPolicyOptions = { maxAttempts: 5, maxElapsedMs: 10_000, backoff: exponential({ initialMs: 200 }) };
 * const policy = retryPolicy(options);
 * ```
 */
export interface RetryPolicyOptions {
  /** Attempts in all, the first included: an integer >= 1 or `Infinity`. Default 3. */
  readonly maxAttempts?: number;
  /**
   * No attempt starts `maxElapsedMs` or more after the first one started: when the next wait would
   * reach it, retry gives up at once instead of sleeping in vain. It does not stop a running attempt
   * (that is what `timeoutPolicy` is for). Default `Infinity`.
   */
  readonly maxElapsedMs?: number;
  /**
   * The waits between attempts. When it runs out, retrying stops. Default
   * `exponential({ initialMs: 100, maxMs: 30_000, jitter: 'full' })`.
   */
  readonly backoff?: Backoff;
  /**
   * Whether an error is worth another attempt; `attempt` is the attempt that failed. Default
   * {@link isRetryableByDefault}: everything but a cancellation and a {@link BrokenCircuitError}.
   * Whatever it says, an attempt is never retried once the caller's signal has aborted. It may be
   * async: retry awaits its answer (a rejection ends the retrying with that error).
   */
  readonly retryIf?: (error: unknown, attempt: number) => boolean | PromiseLike<boolean>;
  /**
   * Whether a value the task returned counts as a failure worth another attempt (a `503` response,
   * an empty page); `attempt` is the attempt that returned it. When retrying stops (attempts, time or
   * backoff ran out), retry resolves with the last value. May be async. Default: no value is retried.
   */
  readonly retryIfResult?: (value: unknown, attempt: number) => boolean | PromiseLike<boolean>;
  /**
   * Called before each wait, with the error that caused it (for a retried value, `error` is
   * undefined and `value` holds it). Earlier errors are reachable here. May be async: retry awaits
   * it, and a rejection ends the retrying with that error.
   */
  readonly onRetry?: (info: RetryInfo) => unknown;
  /**
   * Called once when retry gives up on an error it would otherwise report (not worth retrying, or
   * attempts, time or backoff ran out), with the last error; not called when the caller aborted.
   * May be async: it is awaited, and a rejection replaces the error.
   */
  readonly onGiveUp?: (info: GiveUpInfo) => unknown;
}

/**
 * What `onGiveUp` is told: the error retry is about to reject with and how far it got.
 *
 * @example
 * ```ts
 * import { retry, constant, type GiveUpInfo } from 'skein';
 * const report = ({ error, attempts }: GiveUpInfo) => console.warn(`gave up after ${attempts} attempt(s): ${String(error)}`);
 * await retry(() => { throw new Error('down'); }, { maxAttempts: 2, backoff: constant(1), onGiveUp: report }).catch(() => {});
 * ```
 */
export interface GiveUpInfo {
  /** The error retry rejects with. */
  readonly error: unknown;
  /** How many attempts ran. */
  readonly attempts: number;
  /** Time since the first attempt started, in ms. */
  readonly elapsedMs: number;
}

/**
 * Options of {@link retry}.
 *
 * @example
 * ```ts
 * import { retry, constant, type RetryOptions } from 'skein';
 * const options: RetryOptions = { maxAttempts: 2, backoff: constant(1), signal: AbortSignal.timeout(1_000) };
 * console.log(await retry(() => 'done', options)); // 'done'
 * ```
 */
export interface RetryOptions extends RetryPolicyOptions {
  /**
   * Aborting it rejects at once with its reason while retry waits between attempts, and starts no
   * further attempt. The task receives this very signal.
   */
  readonly signal?: AbortSignal;
}

/**
 * The default `retryIf`: true for any error except a cancellation (the caller gave up: trying again
 * would defy them) and a {@link BrokenCircuitError} (a breaker refused the call: trying again only
 * waits to be refused again). A `TimeoutError` is retried: an attempt that ran out of time may well
 * succeed on the next.
 *
 * @example
 * ```ts
 * import { isRetryableByDefault, CancelledError, retry } from 'skein';
 * console.log(isRetryableByDefault(new Error('ECONNRESET')), isRetryableByDefault(new CancelledError())); // true false
 * // Narrow the default rather than replace it:
 * await retry(() => 'ok', { retryIf: (error) => isRetryableByDefault(error) && !(error instanceof TypeError) });
 * ```
 */
export function isRetryableByDefault(error: unknown): boolean {
  return !isCancellation(error) && !(error instanceof BrokenCircuitError);
}

/**
 * Runs `task` until it succeeds, an error is not worth retrying, the attempts or the time budget run
 * out, or the caller aborts. Resolves with the first success; rejects with the last attempt's error
 * itself, unchanged (earlier ones go through `onRetry`), or with the signal's reason when the caller
 * aborts during a wait. The task receives the caller's signal and `{ attempt }`.
 *
 * @example
 * ```ts
 * import { retry, constant } from 'skein';
 * let calls = 0;
 * const value = await retry(
 *   async (_signal, { attempt }) => {
 *     calls++;
 *     if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
 *     return 'third time lucky';
 *   },
 *   { maxAttempts: 5, backoff: constant(1) },
 * );
 * console.log(value, calls); // 'third time lucky' 3
 * ```
 */
export function retry<T>(task: RetryTask<T>, options?: RetryOptions): Promise<T> {
  assertFunction(task, 'task');
  assertRetryOptions(options, false);
  const signal = options?.signal;
  assertSignal(signal, 'options.signal');
  return runRetry(task, signal ?? neverAbortedSignal(), options);
}

/** Validates retry's options; `reusable` (for a policy) also rejects a one-shot backoff iterator. */
export function assertRetryOptions(options: RetryPolicyOptions | undefined, reusable: boolean): void {
  if (options === undefined) return;
  assertOptions(options);
  assertKnownOptions(options, RETRY_OPTIONS, reusable ? 'retryPolicy' : 'retry');
  if (options.maxAttempts !== undefined) assertInteger(options.maxAttempts, 'maxAttempts', { min: 1, allowInfinity: true });
  if (options.maxElapsedMs !== undefined) assertDuration(options.maxElapsedMs, 'maxElapsedMs', { allowInfinity: true });
  if (options.backoff !== undefined) assertBackoff(options.backoff, 'backoff', { reusable });
  if (options.retryIf !== undefined) assertFunction(options.retryIf, 'retryIf');
  if (options.onRetry !== undefined) assertFunction(options.onRetry, 'onRetry');
  if (options.retryIfResult !== undefined) assertFunction(options.retryIfResult, 'retryIfResult');
  if (options.onGiveUp !== undefined) assertFunction(options.onGiveUp, 'onGiveUp');
}

/**
 * The shared engine of `retry` and `retryPolicy`, with options already validated. The first attempt
 * is run without an async function: a success costs one `then`, nothing else.
 *
 * Once the caller's signal has aborted, the call rejects with its reason, whatever the running
 * attempt then does (skein's abort-after-finish rule, see docs/core.md).
 */
export function runRetry<T>(task: RetryTask<T>, signal: AbortSignal, options: RetryPolicyOptions | undefined): Promise<T> {
  const abortable = signal !== neverAbortedSignal();
  if (abortable && signal.aborted) return Promise.reject(signal.reason as unknown);
  // The clock is read only when something needs the elapsed time.
  const startedAt =
    options?.maxElapsedMs !== undefined || options?.onRetry !== undefined || options?.onGiveUp !== undefined ? Date.now() : 0;
  let result: T | PromiseLike<T>;
  try {
    result = task(signal, FIRST_ATTEMPT);
  } catch (error) {
    return retryAfter(task, signal, options, startedAt, { failed: true, outcome: error });
  }
  if (options?.retryIfResult !== undefined) return afterFirstValue(task, signal, options, startedAt, result);
  if (!isThenable(result)) return abortable && signal.aborted ? Promise.reject(signal.reason as unknown) : Promise.resolve(result);
  if (abortable) return afterAbortableAttempt(task, signal, options, startedAt, result);
  return Promise.resolve(result).then(undefined, (error: unknown) =>
    retryAfter(task, signal, options, startedAt, { failed: true, outcome: error }),
  );
}

/** The first attempt when values may be retried too: every outcome goes through the decision. */
function afterFirstValue<T>(
  task: RetryTask<T>,
  signal: AbortSignal,
  options: RetryPolicyOptions,
  startedAt: number,
  result: T | PromiseLike<T>,
): Promise<T> {
  return Promise.resolve(result).then(
    (value) => retryAfter(task, signal, options, startedAt, { failed: false, outcome: value }),
    (error: unknown) => retryAfter(task, signal, options, startedAt, { failed: true, outcome: error }),
  );
}

/** The first attempt with a caller's signal: a value that arrives after the abort is not a success. */
function afterAbortableAttempt<T>(
  task: RetryTask<T>,
  signal: AbortSignal,
  options: RetryPolicyOptions | undefined,
  startedAt: number,
  result: PromiseLike<T>,
): Promise<T> {
  return Promise.resolve(result).then(
    (value) => {
      if (signal.aborted) throw signal.reason;
      return value;
    },
    (error: unknown) => retryAfter(task, signal, options, startedAt, { failed: true, outcome: error }),
  );
}

/** How an attempt ended: rejected (`failed`) with `outcome`, or fulfilled with it. */
interface AttemptOutcome {
  failed: boolean;
  outcome: unknown;
}

/** Awaits what a user hook returned only when it is a promise, so a synchronous hook costs no tick. */
async function answer<A>(value: A | PromiseLike<A>): Promise<A> {
  return isThenable(value) ? await value : value;
}

async function retryAfter<T>(
  task: RetryTask<T>,
  signal: AbortSignal,
  options: RetryPolicyOptions | undefined,
  startedAt: number,
  first: AttemptOutcome,
): Promise<T> {
  const maxAttempts = options?.maxAttempts ?? 3;
  const maxElapsedMs = options?.maxElapsedMs ?? Infinity;
  const retryIf = options?.retryIf ?? isRetryableByDefault;
  const retryIfResult = options?.retryIfResult;
  const onRetry = options?.onRetry;
  const onGiveUp = options?.onGiveUp;
  const sleepOptions = signal === neverAbortedSignal() ? undefined : { signal };
  let last = first;
  let delays: Iterator<number> | undefined;
  const giveUp = async (attempts: number): Promise<T> => {
    if (!last.failed) return last.outcome as T;
    if (onGiveUp !== undefined) {
      const elapsedMs = Date.now() - startedAt;
      await answer(onGiveUp({ error: last.outcome, attempts, elapsedMs }));
    }
    throw last.outcome;
  };
  try {
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      if (!last.failed) {
        if (retryIfResult === undefined || !(await answer(retryIfResult(last.outcome, attempt)))) return last.outcome as T;
      } else if (attempt < maxAttempts && !(await answer(retryIf(last.outcome, attempt)))) {
        return await giveUp(attempt);
      }
      if (signal.aborted) throw signal.reason;
      if (attempt >= maxAttempts) return await giveUp(attempt);
      delays ??= (options?.backoff ?? exponential())[Symbol.iterator]();
      const delayMs = nextDelay(delays, 'backoff');
      if (delayMs === undefined) return await giveUp(attempt);
      const elapsedMs = maxElapsedMs === Infinity && onRetry === undefined ? 0 : Date.now() - startedAt;
      if (elapsedMs + delayMs >= maxElapsedMs) return await giveUp(attempt);
      if (onRetry !== undefined) {
        const info = last.failed
          ? { error: last.outcome, attempt, delayMs, elapsedMs }
          : { error: undefined, value: last.outcome, attempt, delayMs, elapsedMs };
        await answer(onRetry(info));
      }
      // Even a zero delay waits for a timer: a task that fails at once must not keep the event loop
      // in microtasks, or no timer (an AbortSignal.timeout, a deadline) could ever fire to stop it.
      await sleep(delayMs, sleepOptions);
      if (signal.aborted) throw signal.reason;
      try {
        last = { failed: false, outcome: await task(signal, { attempt: attempt + 1 }) };
      } catch (next) {
        last = { failed: true, outcome: next };
      }
    }
  } finally {
    // Lets a generator-based backoff run its `finally` blocks.
    delays?.return?.();
  }
}
