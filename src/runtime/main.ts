/**
 * The entry point of a program: its body runs in a root scope, and SIGINT, SIGTERM or an uncaught
 * error turn into an orderly halt (abort, unwind, clean up, exit with a conventional code) instead of
 * an abrupt one. After Effection's `main()`, with an explicit shutdown deadline and cleanups.
 */
import { constants } from 'node:os';
import { isCancellation, TimeoutError } from '../core/errors.js';
import { validateGrace, type GraceOptions } from '../core/grace.js';
import { scope, type TaskGroup } from '../core/scope.js';
import { assertDuration, assertFunction, assertOptions, describe } from '../core/validate.js';
import { ShutdownError } from './shutdown-error.js';

/** Something to run at shutdown; its signal aborts when the shutdown deadline passes. */
export type Cleanup = (signal: AbortSignal) => unknown;

/** What {@link main} gives its body besides the root signal. */
export interface MainContext {
  /** The root signal (also the body's first argument). It aborts with a {@link ShutdownError}. */
  readonly signal: AbortSignal;
  /**
   * The root scope: spawn background work here (`group.spawn((signal) => every(...))`). `main`
   * waits for all of it to settle before it runs the cleanups.
   */
  readonly group: TaskGroup;
  /**
   * Registers a cleanup, run after the root scope has unwound, in reverse order of registration
   * (the last resource opened is closed first), each awaited before the next. A cleanup that throws
   * is reported and the others still run. Returns a function that unregisters it.
   */
  readonly onCleanup: (cleanup: Cleanup) => () => void;
}

/** The part of `process` that {@link main} uses; inject an `EventEmitter` to simulate signals in tests. */
export interface MainProcess {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Options for {@link main}. `graceMs` and `onStraggler` apply to the root scope: how long children
 * that ignore the shutdown get before `main` moves on to the cleanups (default 2 s, a warning).
 */
export interface MainOptions extends GraceOptions {
  /**
   * How long the shutdown may take, in ms, from the moment it starts (a signal, an uncaught error, or
   * the body settling) until the last cleanup has finished (default 10 000). When it passes, the
   * overrun is reported, the cleanups' signal aborts and the process exits without waiting further.
   */
  readonly shutdownTimeoutMs?: number;
  /** The signals that start a shutdown (default `['SIGINT', 'SIGTERM']`). */
  readonly signals?: readonly NodeJS.Signals[];
  /** Ends the process with the exit code (default `process.exit`). */
  readonly exit?: (code: number) => void;
  /** Where signals and uncaught errors come from (default the global `process`). */
  readonly process?: MainProcess;
  /** Told about every failure: the body's, a cleanup's, an uncaught one, an overrun (default `console.error`). */
  readonly onError?: (error: unknown) => void;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
/** Keeps the process alive while the body waits only on its signal (no other handle would). */
const KEEP_ALIVE_MS = 1 << 30;

/**
 * Runs `body(signal, context)` as the program, in a root scope, and exits when it is done:
 *
 * - SIGINT or SIGTERM aborts the root signal with a {@link ShutdownError}. `main` waits for the
 *   scope to unwind (every spawned child settled), then runs the cleanups in reverse order, all
 *   within `shutdownTimeoutMs`. A second signal during the shutdown exits at once.
 * - An uncaught exception or unhandled rejection is reported and starts the same orderly shutdown.
 * - Exit codes: 0 when the body succeeded, 1 when it, a cleanup or anything uncaught failed or the
 *   shutdown overran, and 128 + the signal's number after a signal (130 for SIGINT, 143 for
 *   SIGTERM), whatever else went wrong (failures are still reported), as shells and orchestrators expect.
 * - Every listener `main` added to the process is removed before it exits.
 *
 * Returns a promise of the exit code, which settles after `exit` was called (so only when `exit` is
 * injected: the default `process.exit` does not return).
 *
 * @example
 * ```ts
 * import { sleep } from 'skein';
 * import { main } from 'skein/node';
 * import { EventEmitter } from 'node:events';
 * import assert from 'node:assert/strict';
 * const fakeProcess = new EventEmitter(); // in production, leave `process` and `exit` out
 * const code = main(async (signal, { onCleanup }) => {
 *   onCleanup(() => console.log('connections closed'));
 *   setTimeout(() => fakeProcess.emit('SIGTERM', 'SIGTERM'), 10);
 *   await sleep(Infinity, { signal }); // serve until asked to stop
 * }, { process: fakeProcess, exit: () => {} });
 * assert.equal(await code, 143);
 * ```
 */
export function main(
  body: (signal: AbortSignal, context: MainContext) => unknown,
  options?: MainOptions,
): Promise<number> {
  assertFunction(body, 'body');
  assertOptions(options);
  const shutdownTimeoutMs = options?.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  assertDuration(shutdownTimeoutMs, 'shutdownTimeoutMs', { allowInfinity: true });
  const signals = options?.signals ?? DEFAULT_SIGNALS;
  if (!Array.isArray(signals) || signals.some((name) => exitCodeOf(name) === undefined)) {
    throw new TypeError(`signals must be an array of signal names such as 'SIGTERM', got ${describeSignals(signals)}`);
  }
  const exit = options?.exit ?? ((code: number) => process.exit(code));
  assertFunction(exit, 'exit');
  const host = options?.process ?? process;
  if (typeof host !== 'object' || host === null || typeof host.on !== 'function' || typeof host.off !== 'function') {
    throw new TypeError(`process must have on() and off() methods, got ${describe(host)}`);
  }
  const onError = options?.onError ?? ((error: unknown) => console.error(error));
  assertFunction(onError, 'onError');
  validateGrace(options);
  const grace: GraceOptions = { graceMs: options?.graceMs, onStraggler: options?.onStraggler };

  return new Shutdown(body, shutdownTimeoutMs, signals, exit, host, onError, grace).run();
}

/** One run of {@link main}: its state machine from start to exit. */
class Shutdown {
  readonly #root = new AbortController();
  /** Aborts when the shutdown deadline passes: cleanups still running should give up. */
  readonly #cleanupController = new AbortController();
  readonly #cleanups: Cleanup[] = [];
  readonly #listeners: [event: string, listener: (...args: unknown[]) => void][] = [];
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  /** The signal that started the shutdown, if one did. */
  #signal: NodeJS.Signals | undefined;
  #stopping = false;
  #failed = false;
  #exited = false;
  #resolve!: (code: number) => void;

  constructor(
    readonly body: (signal: AbortSignal, context: MainContext) => unknown,
    readonly shutdownTimeoutMs: number,
    readonly signals: readonly NodeJS.Signals[],
    readonly exit: (code: number) => void,
    readonly host: MainProcess,
    readonly report: (error: unknown) => void,
    readonly grace: GraceOptions,
  ) {}

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.#resolve = resolve));
    for (const name of this.signals) this.#listen(name, () => this.#onSignal(name));
    this.#listen('uncaughtException', (error) => this.#onUncaught(error));
    this.#listen('unhandledRejection', (reason) => this.#onUncaught(reason));
    this.#keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
    void this.#main();
    return done;
  }

  async #main(): Promise<void> {
    try {
      await scope(
        (group) =>
          this.body(group.signal, {
            signal: group.signal,
            group,
            onCleanup: (cleanup) => this.#onCleanup(cleanup),
          }),
        { ...this.grace, signal: this.#root.signal },
      );
    } catch (error) {
      // Our own abort coming back is the expected end of a shutdown, not a failure.
      if (!(this.#stopping && (error === this.#root.signal.reason || isCancellation(error)))) this.#fail(error);
    }
    this.#startShutdown();
    while (this.#cleanups.length > 0 && !this.#exited) {
      const cleanup = this.#cleanups.pop()!;
      try {
        await cleanup(this.#cleanupController.signal);
      } catch (error) {
        if (!this.#exited) this.#fail(error);
      }
    }
    this.#exit(this.#exitCode());
  }

  #onCleanup(cleanup: Cleanup): () => void {
    assertFunction(cleanup, 'cleanup');
    if (this.#exited) throw new Error('main() has already exited: the cleanup would never run');
    this.#cleanups.push(cleanup);
    return () => {
      const index = this.#cleanups.lastIndexOf(cleanup);
      if (index !== -1) this.#cleanups.splice(index, 1);
    };
  }

  #onSignal(name: NodeJS.Signals): void {
    if (this.#stopping) {
      this.report(new ShutdownError(`received ${name} during shutdown: exiting without waiting`, { signal: name }));
      this.#signal ??= name;
      this.#exit(exitCodeOf(name)!);
      return;
    }
    this.#signal = name;
    this.#startShutdown(new ShutdownError(`received ${name}`, { signal: name }));
  }

  #onUncaught(error: unknown): void {
    this.#fail(error);
    this.#startShutdown(new ShutdownError('shutting down after an uncaught error', { cause: error }));
  }

  #fail(error: unknown): void {
    this.#failed = true;
    try {
      this.report(error);
    } catch {
      // A broken reporter must not stop the shutdown.
    }
  }

  /** Starts the shutdown clock; with a reason, also aborts the root scope. */
  #startShutdown(reason?: ShutdownError): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (reason !== undefined) this.#root.abort(reason);
    if (this.shutdownTimeoutMs !== Infinity) {
      this.#deadline = setTimeout(() => {
        const overrun = new TimeoutError(`shutdown did not finish within ${this.shutdownTimeoutMs} ms: exiting`);
        this.#fail(overrun);
        this.#cleanupController.abort(overrun);
        this.#exit(this.#exitCode());
      }, this.shutdownTimeoutMs);
    }
  }

  #exitCode(): number {
    if (this.#signal !== undefined) return exitCodeOf(this.#signal)!;
    return this.#failed ? 1 : 0;
  }

  #exit(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    clearTimeout(this.#deadline);
    clearInterval(this.#keepAlive);
    for (const [event, listener] of this.#listeners) this.host.off(event, listener);
    this.#listeners.length = 0;
    try {
      this.exit(code);
    } catch (error) {
      this.#fail(error);
    }
    this.#resolve(code);
  }

  #listen(event: string, listener: (...args: unknown[]) => void): void {
    this.host.on(event, listener);
    this.#listeners.push([event, listener]);
  }
}

/** 128 + the signal's number, as shells report a process killed by it; `undefined` if unknown. */
function exitCodeOf(name: unknown): number | undefined {
  if (typeof name !== 'string' || !Object.hasOwn(constants.signals, name)) return undefined;
  return 128 + constants.signals[name as NodeJS.Signals];
}

function describeSignals(value: unknown): string {
  if (!Array.isArray(value)) return describe(value);
  const bad = (value as unknown[]).find((name) => exitCodeOf(name) === undefined);
  return `an array containing ${describe(bad)}`;
}
