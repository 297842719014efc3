/**
 * `fallback`: when the task fails, resolve with a stand-in instead: a cached value, a default, a
 * degraded answer. Outermost in a {@link wrap}, it turns "the dependency is down and the breaker
 * refused" into an answer. It never swallows a cancellation: a caller that gave up gets its abort.
 */
import { isCancellation } from '../core/errors.js';
import { isThenable } from '../core/task.js';
import { assertFunction, assertOptions } from '../core/validate.js';
import { neverAbortedSignal } from '../core/signal.js';
import { FIRST_ATTEMPT, assertExecuteOptions, type ExecuteOptions, type Policy, type PolicyTask } from './policy.js';

/**
 * Options for {@link fallback}.
 *
 * @example
 * ```ts
 * import { fallback, type FallbackOptions } from 'skein';
 * const options: FallbackOptions = { fallbackIf: (error) => !(error instanceof TypeError) };
 * const policy = fallback('default', options);
 * ```
 */
export interface FallbackOptions {
  /**
   * Which errors the fallback replaces. Default: every error but a cancellation. Whatever it says,
   * nothing is replaced once the caller's signal has aborted: the call rejects with its reason.
   */
  readonly fallbackIf?: (error: unknown) => boolean;
}

/**
 * Makes the stand-in from the error; may be async, and receives the caller's signal.
 *
 * @example
 * ```ts
 * import { fallback, type FallbackFunction } from 'skein';
 * const fromCache: FallbackFunction<string> = async (error) => `cached (live call failed: ${String(error)})`;
 * const policy = fallback(fromCache);
 * ```
 */
export type FallbackFunction<F> = (error: unknown, signal: AbortSignal) => F | PromiseLike<F>;

/**
 * A policy that resolves with `valueOrFn` (or what the function returns for the error) when the task
 * fails. A function is always called, never returned: to fall back to a function value, return it
 * from one (`fallback(() => myFunction)`).
 *
 * @example
 * ```ts
 * import { fallback } from 'skein';
 * const orEmpty = fallback([] as string[]);
 * console.log(await orEmpty.execute(async (): Promise<string[]> => { throw new Error('down'); })); // []
 * const described = fallback((error) => `unavailable: ${(error as Error).message}`);
 * console.log(await described.execute(() => { throw new Error('503'); })); // 'unavailable: 503'
 * ```
 */
export function fallback<F>(produce: FallbackFunction<F>, options?: FallbackOptions): Policy<F>;
export function fallback<F>(value: F, options?: FallbackOptions): Policy<F>;
export function fallback<F>(valueOrFn: F | FallbackFunction<F>, options?: FallbackOptions): Policy<F> {
  assertOptions(options);
  const fallbackIf = options?.fallbackIf ?? ((error: unknown) => !isCancellation(error));
  assertFunction(fallbackIf, 'fallbackIf');
  const produce: FallbackFunction<F> =
    typeof valueOrFn === 'function' ? (valueOrFn as FallbackFunction<F>) : () => valueOrFn;
  return {
    execute<T>(task: PolicyTask<T>, executeOptions?: ExecuteOptions): Promise<T | F> {
      assertFunction(task, 'task');
      assertExecuteOptions(executeOptions);
      const signal = executeOptions?.signal ?? neverAbortedSignal();
      if (signal.aborted) return Promise.reject(signal.reason as unknown);
      let result: T | PromiseLike<T>;
      try {
        result = task(signal, executeOptions?.context ?? FIRST_ATTEMPT);
      } catch (error) {
        return recover(error, signal, fallbackIf, produce);
      }
      const onError = (error: unknown): Promise<F> => recover(error, signal, fallbackIf, produce);
      if (signal === neverAbortedSignal()) return Promise.resolve(result).then(undefined, onError);
      if (!isThenable(result)) return signal.aborted ? Promise.reject(signal.reason as unknown) : Promise.resolve(result);
      // The abort-after-finish rule: once the caller aborted, the call rejects with its reason.
      return Promise.resolve(result).then((value) => {
        if (signal.aborted) throw signal.reason;
        return value;
      }, onError);
    },
  };
}

/** Replaces a failure with the stand-in, unless it is one the fallback must let through. */
async function recover<F>(
  error: unknown,
  signal: AbortSignal,
  fallbackIf: (error: unknown) => boolean,
  produce: FallbackFunction<F>,
): Promise<F> {
  if (signal.aborted) throw signal.reason;
  if (!fallbackIf(error)) throw error;
  const standIn = await produce(error, signal);
  if (signal.aborted) throw signal.reason;
  return standIn;
}
