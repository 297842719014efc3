/**
 * skein: structured concurrency for TypeScript. Every task receives an `AbortSignal`; every
 * combinator cancels what it started when the work must stop, and returns only when it has settled.
 */
export * from './core/index.js';
export * from './flow/index.js';
export * from './runtime/index.js';
export * from './resilience/index.js';
