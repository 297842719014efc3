/**
 * A unit of work: a function that receives the `AbortSignal` it must honour and returns a value or a
 * promise of one. Promises cannot be cancelled; tasks can, because they are told when to stop.
 *
 * @example
 * ```ts
 * import type { Task } from 'skein';
 * const fetchText: Task<string> = async (signal) => {
 *   const response = await fetch('http://127.0.0.1:1', { signal }).catch(() => undefined);
 *   return response ? response.text() : '';
 * };
 * ```
 */
export type Task<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** The value a task resolves to: `TaskValue<Task<number>>` is `number`. */
export type TaskValue<F> = F extends (signal: AbortSignal, ...rest: never[]) => infer R ? Awaited<R> : never;

/** True for anything `await` would treat as a promise. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
