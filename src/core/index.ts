export { CancelledError, TimeoutError, ScopeClosedError, isCancellation } from './errors.js';
export { linkSignal, deadlineOf, type SignalLink } from './signal.js';
export { DEFAULT_GRACE_MS, type GraceOptions, type StragglerReport, type StragglerHandler } from './grace.js';
export { sleep, type SleepOptions } from './sleep.js';
export type { Task, TaskValue } from './task.js';
