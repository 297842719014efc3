/**
 * The contract every resilience policy keeps, so that {@link wrap} can compose any of them, skein's
 * or your own: `execute(task, { signal })` runs `task` under the policy, hands it the signal it must
 * honour, and settles only when the task has settled (or was never started).
 */

import { assertKnownOptions, assertOptions, assertSignal } from '../core/validate.js';

/**
 * What a policy tells the task it runs. `attempt` counts from 1; only a retry layer raises it.
 *
 * @example
 * ```ts
 * import { retryPolicy, type PolicyContext } from 'skein';
 * await retryPolicy().execute((_signal, context: PolicyContext) => console.log(`attempt ${context.attempt}`));
 * ```
 */
export interface PolicyContext {
  readonly attempt: number;
}

/**
 * A task run by a policy: a skein `Task` that may also read the {@link PolicyContext}.
 *
 * @example
 * ```ts
 * import { timeoutPolicy, sleep, type PolicyTask } from 'skein';
 * const ping: PolicyTask<string> = async (signal) => { await sleep(1, { signal }); return 'pong'; };
 * console.log(await timeoutPolicy(1_000).execute(ping)); // 'pong'
 * ```
 */
export type PolicyTask<T> = (signal: AbortSignal, context: PolicyContext) => T | PromiseLike<T>;

/**
 * Options of every `execute`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive, type ExecuteOptions } from 'skein';
 * const options: ExecuteOptions = { signal: AbortSignal.timeout(5_000) };
 * await new CircuitBreaker({ policy: consecutive(3) }).execute(() => 'ok', options);
 * ```
 */
export interface ExecuteOptions {
  /** The caller's signal. The task receives it (or a signal linked to it), and so does every inner layer. */
  readonly signal?: AbortSignal;
  /**
   * Handed to the task unchanged when the policy does not make its own; {@link wrap} uses it to carry
   * an outer retry's attempt number to the innermost task. Default `{ attempt: 1 }`.
   */
  readonly context?: PolicyContext;
}

/**
 * A reusable policy. `Alt` is what the policy may resolve with instead of the task's value (a
 * {@link fallback}'s value); `never` for the others.
 *
 * @example
 * ```ts
 * import type { Policy, PolicyTask, ExecuteOptions } from 'skein';
 * // A policy of your own composes with skein's through wrap().
 * const logged: Policy = {
 *   execute<T>(task: PolicyTask<T>, options?: ExecuteOptions) {
 *     const signal = options?.signal ?? new AbortController().signal;
 *     return Promise.resolve(task(signal, options?.context ?? { attempt: 1 }));
 *   },
 * };
 * console.log(await logged.execute(() => 42)); // 42
 * ```
 */
export interface Policy<Alt = never> {
  execute<T>(task: PolicyTask<T>, options?: ExecuteOptions): Promise<T | Alt>;
  /**
   * Type-level only, never set: lets {@link wrap} read `Alt` back (inferring it from the generic
   * `execute` yields `unknown` for `never`). Annotate a policy of your own as `Policy` or `Policy<F>`
   * so that `wrap` types its result exactly.
   */
  readonly '~alternative'?: () => Alt;
}

/** The context of a call no retry layer has numbered. Frozen, so sharing it is safe. */
export const FIRST_ATTEMPT: PolicyContext = Object.freeze({ attempt: 1 });

const EXECUTE_OPTIONS = ['signal', 'context'];

/** Validates `execute`'s options. Kept to a few type checks: it runs on every call. */
export function assertExecuteOptions(options: ExecuteOptions | undefined): void {
  if (options === undefined) return;
  assertOptions(options);
  assertKnownOptions(options, EXECUTE_OPTIONS, 'execute');
  assertSignal(options.signal, 'options.signal');
  if (options.context !== undefined) assertOptions(options.context, 'options.context');
}
