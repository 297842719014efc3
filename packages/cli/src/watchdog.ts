/**
 * A deadline that holds even while the main thread's JavaScript never yields, such as a workflow
 * module with an endless loop at import. A timer on the main thread cannot fire then, so the clock
 * runs in a worker thread. When the deadline passes first, the worker tells the main thread, which
 * reports the timeout as usual if it is merely waiting (a top-level await on something slow). If the
 * main thread is stuck in JavaScript instead (its heartbeat, a timer beating every 50 ms into shared
 * memory, has stopped for a second), it can neither report nor exit: the worker writes the report to
 * stderr itself and ends the process with SIGKILL (exit status 137).
 *
 * Why not interrupt the stuck JavaScript and carry on: V8 can terminate it (`Runtime.terminateExecution`
 * through the inspector, as Node's `vm` timeouts do), but in a module being evaluated under a loader
 * that left Node aborting now and then, and an exit that is sometimes an abort is worse than one that
 * is always a kill. Loading the module elsewhere (a worker, a child process) cannot work either: the
 * workflow, its functions and its board, must live in the CLI's own thread, and a trial load would
 * run its top-level side effects twice.
 *
 * Races: the outcome is settled with compare-and-swap on shared memory, so a module that finishes
 * loading as the deadline passes is either loaded (the watchdog stands down) or timed out, never
 * both. The worker is unref'd: it never keeps the process alive by itself.
 */
import { Worker } from 'node:worker_threads';

/** Slots of the shared memory: the outcome, and the main thread's last heartbeat (ms since `origin`). */
const STATE = 0;
const BEAT = 1;
/** Outcomes: decided once, by compare-and-swap. */
const ARMED = 0;
const DISARMED = 1;
const FIRED = 2;
const HANDLED = 3;
const KILLING = 4;
/** How often the main thread beats while the watchdog is armed. */
const BEAT_MS = 50;
/** A main thread whose heartbeat is this old is stuck in JavaScript, not waiting. */
const STUCK_MS = 1_000;
/** How often the worker looks at the heartbeat after the deadline. */
const POLL_MS = 100;

/**
 * The worker's source (the deadline is absolute, so that the worker's own start-up does not extend it): plain CommonJS evaluated as a string, so that it loads the same under tsx,
 * plain Node and a bundle, and without the CLI's module graph.
 */
const WATCHDOG_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const shared = new Int32Array(workerData.shared);
const beatAge = () => Date.now() - workerData.origin - Atomics.load(shared, ${BEAT});
setTimeout(() => {
  if (Atomics.compareExchange(shared, ${STATE}, ${ARMED}, ${FIRED}) !== ${ARMED}) return;
  // A main thread that still runs its event loop handles this at once.
  parentPort.postMessage('fired');
  const poll = setInterval(() => {
    if (Atomics.load(shared, ${STATE}) !== ${FIRED}) return clearInterval(poll);
    if (beatAge() < ${STUCK_MS}) return;
    clearInterval(poll);
    // Either the main thread took 'fired' (HANDLED) or the worker ends the process (KILLING), not both.
    if (Atomics.compareExchange(shared, ${STATE}, ${FIRED}, ${KILLING}) === ${FIRED}) endStuckProcess();
  }, ${POLL_MS});
}, Math.max(0, workerData.deadline - Date.now()));

/**
 * A main thread stuck in JavaScript cannot report anything, nor exit: the watchdog says why on
 * stderr itself (a synchronous write to the file descriptor, which needs no event loop) and ends the
 * process with SIGKILL, which no JavaScript can delay.
 */
function endStuckProcess() {
  try {
    require('node:fs').writeSync(2, workerData.stuckMessage + '\\n');
  } finally {
    process.kill(process.pid, 'SIGKILL');
  }
}
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
 * Starts a watchdog for a deadline `timeoutMs` from now; `stuckMessage` is what it writes to stderr
 * before it ends a process whose main thread is stuck in JavaScript past the deadline.
 *
 * @example
 * ```ts
 * const watchdog = startWatchdog(2_000);
 * const loaded = import('./flow.js').then((module) => (watchdog.disarm() ? module : watchdog.fired.then(() => undefined)));
 * const module = await Promise.race([loaded, watchdog.fired.then(() => undefined)]); // undefined: timed out
 * ```
 */
export function startWatchdog(timeoutMs: number, stuckMessage = `skein: the deadline of ${timeoutMs} ms passed while JavaScript never yielded`): Watchdog {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError(`timeoutMs must be a finite number >= 0, got ${timeoutMs}`);
  const origin = Date.now();
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const beat = (): void => void Atomics.store(shared, BEAT, Date.now() - origin);
  beat();
  const heartbeat = setInterval(beat, BEAT_MS);
  heartbeat.unref();
  const worker = new Worker(WATCHDOG_SOURCE, {
    eval: true,
    workerData: { shared: shared.buffer, origin, deadline: origin + timeoutMs, stuckMessage },
    execArgv: [],
    stdout: false,
    stderr: false,
  });
  worker.unref();
  let resolveFired!: () => void;
  const fired = new Promise<void>((resolve) => (resolveFired = resolve));
  let ended: Promise<unknown> | undefined;
  const stop = (): void => {
    clearInterval(heartbeat);
    worker.off('message', onMessage);
    ended ??= worker.terminate();
  };
  const onMessage = (message: unknown): void => {
    // 'fired' counts unless the worker has found this thread stuck and is ending the process.
    if (message !== 'fired' || Atomics.compareExchange(shared, STATE, FIRED, HANDLED) !== FIRED) return;
    Atomics.store(shared, STATE, HANDLED);
    stop();
    resolveFired();
  };
  worker.on('message', onMessage);
  // A worker that fails to start leaves the work without a deadline rather than failing it.
  worker.once('error', () => worker.off('message', onMessage));
  return {
    fired,
    disarm() {
      const won = Atomics.compareExchange(shared, STATE, ARMED, DISARMED) === ARMED;
      if (won) stop();
      return won;
    },
    async close() {
      const before = Atomics.compareExchange(shared, STATE, ARMED, DISARMED);
      if (before !== ARMED && before !== DISARMED) await fired;
      else stop();
      await ended;
    },
    firing() {
      const state = Atomics.load(shared, STATE);
      const isFiring = state === FIRED || state === HANDLED || state === KILLING;
      if (isFiring) worker.ref();
      return isFiring;
    },
  };
}
