/**
 * INTERIM ADAPTER, TO BE REPLACED: the board's only door to the resilience layer.
 *
 * The board must use skein's `retryPolicy` (resilience), not its own retry loop. Until resilience
 * lands in this branch, this file gives the smallest stand-in behind the exact shape the board needs,
 * so that swapping it is a change to this file alone: `createRetryPolicy(options)` ->
 * `retryPolicy(options)`, and `ExecutionPolicy` -> resilience's `Policy`. (Limits already use flow's
 * `Semaphore`; per-attempt timeouts and bestOf use the core's `timeout` and `gather`.)
 */
import { isCancellation } from '../core/errors.js';
import { sleep } from '../core/sleep.js';

/**
 * A policy as resilience defines them: it runs a task, passing a signal (and, for retries, the
 * attempt), and settles as the policy decides. `retryPolicy(...)`, `wrap(...)` and a
 * `CircuitBreaker` all fit.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import type { ExecutionPolicy } from 'skein/board';
 * const once: ExecutionPolicy = { execute: (task, options) => Promise.resolve(task(options?.signal ?? new AbortController().signal, { attempt: 1 })) };
 * const Job = artifactType('Job', z.string());
 * await using board = new Board();
 * board.agent('worker').consumes(Job).retry(once).handle(() => {});
 * ```
 */
export interface ExecutionPolicy {
  execute<T>(task: (signal: AbortSignal, context?: { attempt: number }) => T | PromiseLike<T>, options?: { signal?: AbortSignal }): Promise<T>;
}

/**
 * The options of resilience's `retryPolicy` that the board passes through when given a plain object.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Job = artifactType('Job', z.string());
 * await using board = new Board();
 * board.agent('worker').consumes(Job).retry({ maxAttempts: 4, backoff: [100, 200, 400] }).handle(() => {});
 * ```
 */
export interface RetryOptions {
  readonly maxAttempts?: number;
  /** Delays between attempts, in ms: a number for a constant delay or any iterable of delays (a backoff). */
  readonly backoff?: number | Iterable<number>;
  readonly retryIf?: (error: unknown, attempt: number) => boolean;
}

export function createRetryPolicy(options: RetryOptions): ExecutionPolicy {
  const maxAttempts = options.maxAttempts ?? 3;
  const retryIf = options.retryIf ?? ((error: unknown) => !isCancellation(error));
  return {
    async execute<T>(task: (signal: AbortSignal, context?: { attempt: number }) => T | PromiseLike<T>, execOptions?: { signal?: AbortSignal }): Promise<T> {
      const signal = execOptions?.signal ?? new AbortController().signal;
      const delays = typeof options.backoff === 'number' || options.backoff === undefined ? undefined : options.backoff[Symbol.iterator]();
      for (let attempt = 1; ; attempt++) {
        try {
          return await task(signal, { attempt });
        } catch (error) {
          if (attempt >= maxAttempts || signal.aborted || !retryIf(error, attempt)) throw error;
          const next = delays?.next();
          const delayMs = typeof options.backoff === 'number' ? options.backoff : next?.done === false ? next.value : 0;
          if (delayMs > 0) await sleep(delayMs, { signal });
        }
      }
    },
  };
}

/** A policy that runs the task once. */
export const ONCE: ExecutionPolicy = {
  async execute<T>(task: (signal: AbortSignal, context?: { attempt: number }) => T | PromiseLike<T>, options?: { signal?: AbortSignal }): Promise<T> {
    return task(options?.signal ?? new AbortController().signal, { attempt: 1 });
  },
};
