import { CancelledError } from './errors.js';
export { CancelledError, TimeoutError, ScopeClosedError, isCancellation, isTimeout, suppressedErrors } from './errors.js';

/**
 * {@link CancelledError} under the name it prints with. Its `name` is `'AbortError'`, the DOM's, so
 * that code checking `error.name === 'AbortError'` recognises it; this alias lets code that starts
 * from a stack trace find it by that name. One class, two names: `instanceof AbortError` and
 * `instanceof CancelledError` are the same test. skein's own docs use `CancelledError`.
 *
 * @example
 * ```ts
 * import { AbortError, CancelledError, timeout } from 'skein';
 * const controller = new AbortController();
 * controller.abort(new CancelledError('stopped by the user'));
 * const error = await timeout((signal) => new Promise((_, reject) => {
 *   signal.addEventListener('abort', () => reject(signal.reason));
 * }), 1_000, { signal: controller.signal }).catch((e: unknown) => e);
 * console.log(error instanceof AbortError, String(error)); // true 'AbortError: stopped by the user'
 * ```
 */
export const AbortError = CancelledError;
/** The type of {@link CancelledError}, under the name it prints with. */
export type AbortError = CancelledError;
export { linkSignal, deadlineOf, type SignalLink } from './signal.js';
export { DEFAULT_GRACE_MS, type GraceOptions, type StragglerReport, type StragglerHandler } from './grace.js';
export { sleep, type SleepOptions } from './sleep.js';
export { timeout, type TimeoutOptions } from './timeout.js';
export { gather, type GatherOptions, type GatherTasks, type GatherResult, type GatherSettledResult } from './gather.js';
export { scope, TaskGroup, TaskHandle, type ScopeOptions } from './scope.js';
export { race, any, type RaceOptions } from './race.js';
export type { SupervisorOptions } from './supervisor.js';
export type { Task, TaskValue } from './task.js';
