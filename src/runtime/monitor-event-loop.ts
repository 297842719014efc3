/**
 * Watching the event loop for stalls. Two instruments, because each misses what the other sees:
 * Node's `monitorEventLoopDelay` histogram samples timer delay in C++ and gives the distribution
 * (how laggy the loop is in general), and a drift check (an interval that compares when it should
 * have fired with when it did) catches one long synchronous block as it ends and says how long it was.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { onAbort } from '../core/signal.js';
import { assertDuration, assertFunction, assertInteger, assertOptions, assertSignal } from '../core/validate.js';

/**
 * The event loop's delay distribution since the monitor started (or was reset), in milliseconds: how
 * much later than scheduled a timer could run (0 on an idle loop). Node's histogram measures the
 * whole gap between samples; the sampling interval is subtracted here.
 */
export interface EventLoopStats {
  /** Median delay. */
  readonly p50Ms: number;
  /** 99th percentile delay. */
  readonly p99Ms: number;
  /** Longest delay seen. */
  readonly maxMs: number;
  /** Mean delay. */
  readonly meanMs: number;
  /** How many samples the histogram holds. */
  readonly samples: number;
}

/** One stall of the event loop longer than the threshold, as reported to {@link EventLoopMonitorOptions.onLag}. */
export interface EventLoopLag {
  /**
   * How long the loop was blocked beyond its schedule, in ms: accurate to within `resolutionMs`
   * (it may have been blocked up to that much longer).
   */
  readonly durationMs: number;
  /** The threshold it passed. */
  readonly thresholdMs: number;
  /** When the stall ended, in epoch ms. */
  readonly at: number;
  /** The delay distribution at that moment. */
  readonly stats: EventLoopStats;
}

/** Options for {@link monitorEventLoop}. */
export interface EventLoopMonitorOptions {
  /** A stall at least this long, in ms, is reported to `onLag` (default 100). */
  readonly thresholdMs?: number;
  /** Called once per stall that reaches `thresholdMs`. Errors it throws become process warnings. */
  readonly onLag?: (lag: EventLoopLag) => void;
  /**
   * How often both instruments sample, in ms (an integer >= 1; default 10). Smaller measures more
   * precisely and costs more wake-ups.
   */
  readonly resolutionMs?: number;
  /** Disposes the monitor when it aborts. */
  readonly signal?: AbortSignal;
}

/** A running monitor. Dispose it (or `using`) to stop its timers. */
export interface EventLoopMonitor extends Disposable {
  /** The delay distribution so far. */
  stats(): EventLoopStats;
  /** Empties the histogram, so the next `stats()` covers only what follows. */
  reset(): void;
  /** Stops sampling and removes the timers. Idempotent. */
  dispose(): void;
  /** True once disposed. */
  readonly disposed: boolean;
}

const DEFAULT_THRESHOLD_MS = 100;
const DEFAULT_RESOLUTION_MS = 10;
const NS_PER_MS = 1e6;

/**
 * Starts watching the event loop. `onLag` hears about every synchronous block longer than
 * `thresholdMs`, with its duration; `stats()` gives the p50, p99 and max delay. The timers are
 * unref'd (the monitor never keeps a process alive) and removed on dispose.
 *
 * @example
 * ```ts
 * import { monitorEventLoop } from 'skein/node';
 * using monitor = monitorEventLoop({
 *   thresholdMs: 200,
 *   onLag: ({ durationMs, stats }) => console.warn(`event loop blocked for ${durationMs.toFixed(0)} ms`, stats),
 * });
 * // ... serve requests ...
 * const { p50Ms, p99Ms, maxMs } = monitor.stats();
 * ```
 */
export function monitorEventLoop(options?: EventLoopMonitorOptions): EventLoopMonitor {
  assertOptions(options);
  const thresholdMs = options?.thresholdMs ?? DEFAULT_THRESHOLD_MS;
  assertDuration(thresholdMs, 'thresholdMs');
  const resolutionMs = options?.resolutionMs ?? DEFAULT_RESOLUTION_MS;
  assertInteger(resolutionMs, 'resolutionMs', { min: 1, max: 60_000 });
  const onLag = options?.onLag;
  if (onLag !== undefined) assertFunction(onLag, 'onLag');
  const signal = options?.signal;
  assertSignal(signal);

  if (signal?.aborted) return disposedMonitor();

  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  // Enabled at once: a created but disabled histogram holds a ref'd handle.
  histogram.enable();
  const stats = (): EventLoopStats => readStats(histogram, resolutionMs);
  let disposed = false;

  let last = performance.now();
  const drift = setInterval(() => {
    const now = performance.now();
    const lateMs = now - last - resolutionMs;
    last = now;
    if (onLag === undefined || lateMs < thresholdMs) return;
    try {
      onLag({ durationMs: lateMs, thresholdMs, at: Date.now(), stats: stats() });
    } catch (error) {
      globalThis.process?.emitWarning?.(`skein: monitorEventLoop onLag threw: ${String(error)}`, {
        type: 'SkeinMonitorWarning',
        code: 'SKEIN_ONLAG_FAILED',
      });
    }
  }, resolutionMs);
  // A monitor watches the process; it must never be the reason the process stays up.
  (drift as { unref?: () => void }).unref?.();

  const removeAbortListener = onAbort(signal, () => dispose());
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    clearInterval(drift);
    histogram.disable();
    removeAbortListener();
  };

  return {
    stats,
    reset: () => histogram.reset(),
    dispose,
    [Symbol.dispose]: dispose,
    get disposed() {
      return disposed;
    },
  };
}

const EMPTY_STATS: EventLoopStats = Object.freeze({ p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, samples: 0 });

/** The monitor returned for a signal that had already aborted: nothing was started. */
function disposedMonitor(): EventLoopMonitor {
  const noop = (): void => {};
  return { stats: () => EMPTY_STATS, reset: noop, dispose: noop, [Symbol.dispose]: noop, disposed: true };
}

function readStats(histogram: IntervalHistogram, resolutionMs: number): EventLoopStats {
  const samples = histogram.count;
  if (samples === 0) return EMPTY_STATS;
  const delayMs = (ns: number): number => Math.max(0, ns / NS_PER_MS - resolutionMs);
  return {
    p50Ms: delayMs(histogram.percentile(50)),
    p99Ms: delayMs(histogram.percentile(99)),
    maxMs: delayMs(histogram.max),
    meanMs: delayMs(histogram.mean),
    samples,
  };
}
