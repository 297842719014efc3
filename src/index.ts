/**
 * skein: structured concurrency for TypeScript. Every task receives an `AbortSignal`; every
 * combinator cancels what it started when the work must stop, and returns only when it has settled.
 *
 * This entry point has no dependencies and no `node:` import in its graph, so it runs in browsers,
 * Deno, Bun and workers as well as Node. The Node-only pieces (`main`, `monitorEventLoop`) are in
 * `skein/node`, the worker-thread pool in `skein/worker`, the orchestrator in `skein/board`.
 *
 * @packageDocumentation
 */
export * from './core/index.js';
export * from './flow/index.js';
export { every, type EveryOptions, type EveryFailure } from './runtime/every.js';
export * from './resilience/index.js';
