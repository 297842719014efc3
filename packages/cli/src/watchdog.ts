/**
 * A deadline that holds even while the main thread's JavaScript never yields, such as a workflow
 * module with an endless loop at import. A timer on the main thread cannot fire then, so the clock
 * runs in a worker thread. When the deadline passes first, the worker interrupts the main thread's
 * JavaScript through the inspector protocol (`Runtime.terminateExecution`, the way a debugger stops a
 * runaway script), waits until V8 confirms that the interrupted execution has ended, and only then
 * tells the main thread, which is free again to report the timeout and exit.
 *
 * Why this and not the alternatives: loading the module in a worker or a child process cannot work,
 * because the workflow (its functions, its board) must live in the CLI's own thread; loading it twice
 * (a trial load elsewhere first) would run its top-level side effects twice. V8's termination is the
 * mechanism Node's own `vm` timeouts use, and the interrupted evaluation is abandoned, never resumed.
 *
 * Races: the worker and the main thread settle the outcome with one compare-and-swap on shared
 * memory, so a module that finishes loading as the deadline passes is either loaded (the watchdog
 * stands down) or timed out (never both), and the termination is requested only when the main
 * thread has not finished. The worker is unref'd: it never keeps the process alive by itself.
 *
 * Without an inspector (a Node built without it), the watchdog still reports a deadline that passes
 * while the main thread waits (an endless async loop, a top-level await that never settles), but
 * cannot interrupt synchronous code.
 */
import { Worker } from 'node:worker_threads';

const ARMED = 0;
const DISARMED = 1;
const FIRED = 2;
/** How long the worker waits for V8 to confirm the termination before it reports anyway. */
const LAST_RESORT_MS = 5_000;

/**
 * The worker's source (the deadline is absolute, so that the worker's own start-up does not extend it): plain CommonJS evaluated as a string, so that it loads the same under tsx,
 * plain Node and a bundle, and without the CLI's module graph.
 */
const WATCHDOG_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.state);
setTimeout(() => {
  if (Atomics.compareExchange(state, 0, ${ARMED}, ${FIRED}) !== ${ARMED}) return;
  let session;
  try {
    const { Session } = require('node:inspector');
    session = new Session();
    session.connectToMainThread();
  } catch {
    parentPort.postMessage('fired');
    return;
  }
  // The reply comes once the interrupted execution has ended: only then may the main thread run
  // the code that reports the timeout, or the termination could stop that code instead. A pending
  // reply does not keep a thread alive: the interval does, until the reply (or a last resort) comes.
  const keepAlive = setInterval(() => {}, 1000);
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    clearInterval(keepAlive);
    clearTimeout(lastResort);
    session.disconnect();
    parentPort.postMessage('fired');
  };
  const lastResort = setTimeout(report, ${LAST_RESORT_MS});
  session.post('Runtime.terminateExecution', report);
  // An idle main thread runs no JavaScript to terminate: give it some to absorb the termination.
  parentPort.postMessage('wake');
}, Math.max(0, workerData.deadline - Date.now()));
`;

/** A running watchdog; see {@link startWatchdog}. */
export interface Watchdog {
  /** Settles (never rejects) once the deadline has passed and the main thread has been interrupted. */
  readonly fired: Promise<void>;
  /**
   * Stands the watchdog down. Returns false when it is too late: the deadline has passed and
   * `fired` will settle (the caller must treat its work as timed out).
   */
  disarm(): boolean;
  /**
   * True once the deadline has passed; the watchdog then keeps the process alive until `fired`
   * settles (an interrupted main thread may have nothing else left to run).
   */
  firing(): boolean;
  /** Disarms the watchdog if it has not fired and resolves once its thread has ended. */
  close(): Promise<void>;
}

/**
 * Starts a watchdog that interrupts the main thread's JavaScript after `timeoutMs`.
 *
 * @example
 * ```ts
 * const watchdog = startWatchdog(2_000);
 * const loaded = import('./flow.js').then((module) => (watchdog.disarm() ? module : watchdog.fired.then(() => undefined)));
 * const module = await Promise.race([loaded, watchdog.fired.then(() => undefined)]); // undefined: timed out
 * ```
 */
export function startWatchdog(timeoutMs: number): Watchdog {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError(`timeoutMs must be a finite number >= 0, got ${timeoutMs}`);
  const state = new SharedArrayBuffer(4);
  const worker = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { state, deadline: Date.now() + timeoutMs }, execArgv: [], stdout: false, stderr: false });
  worker.unref();
  let resolveFired!: () => void;
  const fired = new Promise<void>((resolve) => (resolveFired = resolve));
  let ended: Promise<unknown> | undefined;
  const stop = (): void => {
    worker.off('message', onMessage);
    ended ??= worker.terminate();
  };
  const onMessage = (message: unknown): void => {
    if (message !== 'fired') return;
    stop();
    resolveFired();
  };
  worker.on('message', onMessage);
  // A worker that fails to start leaves the work without a deadline rather than failing it.
  worker.once('error', () => worker.off('message', onMessage));
  return {
    fired,
    disarm() {
      const won = Atomics.compareExchange(new Int32Array(state), 0, ARMED, DISARMED) === ARMED;
      if (won) stop();
      return won;
    },
    async close() {
      const before = Atomics.compareExchange(new Int32Array(state), 0, ARMED, DISARMED);
      if (before === FIRED) await fired;
      else stop();
      await ended;
    },
    firing() {
      const isFiring = Atomics.load(new Int32Array(state), 0) === FIRED;
      if (isFiring) worker.ref();
      return isFiring;
    },
  };
}
