/**
 * INTERIM ADAPTER, TO BE REPLACED: the board's only doors to the flow and resilience layers.
 *
 * The board must use skein's `Semaphore` (flow) and `retryPolicy` (resilience), not its own. Until
 * those land in this branch, this file gives the smallest stand-ins behind the exact shapes the board
 * needs, so that swapping them is a change to this file alone:
 * - `createSemaphore(permits)` -> `new Semaphore(permits)` from `src/flow/semaphore.ts`,
 * - `createRetryPolicy(options)` -> `retryPolicy(options)` from `src/resilience/`.
 * (Per-attempt timeouts and bestOf already use the core's `timeout` and `gather`.)
 */
import { isCancellation } from '../core/errors.js';
import { sleep } from '../core/sleep.js';

/** A held permit; `release` is idempotent. */
export interface Permit {
  release(): void;
}

/** The part of flow's `Semaphore` the board uses. */
export interface PermitSource {
  acquire(options?: { signal?: AbortSignal }): Promise<Permit>;
}

/**
 * A policy as resilience defines them: it runs a task, passing a signal (and, for retries, the
 * attempt), and settles as the policy decides. `retryPolicy(...)`, `wrap(...)` and a
 * `CircuitBreaker` all fit.
 */
export interface ExecutionPolicy {
  execute<T>(task: (signal: AbortSignal, context?: { attempt: number }) => T | PromiseLike<T>, options?: { signal?: AbortSignal }): Promise<T>;
}

/** The options of resilience's `retryPolicy` that the board passes through when given a plain object. */
export interface RetryOptions {
  readonly maxAttempts?: number;
  /** Delays between attempts, in ms: a number for a constant delay or any iterable of delays (a backoff). */
  readonly backoff?: number | Iterable<number>;
  readonly retryIf?: (error: unknown, attempt: number) => boolean;
}

class HeldPermit implements Permit {
  #semaphore: FifoSemaphore | undefined;

  constructor(semaphore: FifoSemaphore) {
    this.#semaphore = semaphore;
  }

  release(): void {
    const semaphore = this.#semaphore;
    this.#semaphore = undefined;
    semaphore?.give();
  }
}

interface Waiter {
  resolve(permit: Permit): void;
  reject(reason: unknown): void;
  settled: boolean;
  remove(): void;
}

class FifoSemaphore implements PermitSource {
  #available: number;
  readonly #waiters: Waiter[] = [];
  #head = 0;

  constructor(permits: number) {
    this.#available = permits;
  }

  acquire(options?: { signal?: AbortSignal }): Promise<Permit> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.#available > 0 && this.#head === this.#waiters.length) {
      this.#available--;
      return Promise.resolve(new HeldPermit(this));
    }
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = (): void => {
        waiter.settled = true;
        reject(signal!.reason as unknown);
      };
      const waiter: Waiter = { resolve, reject, settled: false, remove: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** @internal A permit came back. */
  give(): void {
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
        this.#waiters.splice(0, this.#head);
        this.#head = 0;
      }
      if (waiter.settled) continue;
      waiter.remove();
      waiter.resolve(new HeldPermit(this));
      return;
    }
    this.#available++;
  }
}

export function createSemaphore(permits: number): PermitSource {
  return new FifoSemaphore(permits);
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
