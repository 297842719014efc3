import { afterEach, describe, expect, it, vi } from 'vitest';
import { monitorEventLoop, type EventLoopLag, type EventLoopMonitor } from './monitor-event-loop.js';

const monitors: EventLoopMonitor[] = [];
const start = (...args: Parameters<typeof monitorEventLoop>): EventLoopMonitor => {
  const monitor = monitorEventLoop(...args);
  monitors.push(monitor);
  return monitor;
};

afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.dispose();
  vi.restoreAllMocks();
});

/** Blocks the event loop: a synchronous busy loop of `ms` milliseconds. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const timeouts = () => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;

describe('monitorEventLoop', () => {
  it('reports a 200 ms block with its duration', async () => {
    const lags: EventLoopLag[] = [];
    const monitor = start({ thresholdMs: 100, resolutionMs: 10, onLag: (lag) => lags.push(lag) });
    await wait(30);
    block(200);
    await wait(30);
    // A loaded machine may deschedule the process too, which is real lag and reported as such: the
    // block must be among the reports, seen to within one sampling interval.
    const blockLag = lags.find((lag) => lag.durationMs >= 200 - 10 - 5);
    expect(blockLag).toBeDefined();
    expect(blockLag!.thresholdMs).toBe(100);
    expect(monitor.stats().maxMs).toBeGreaterThanOrEqual(150);
  });

  it('does not report an idle loop', async () => {
    // The drift check on a fake clock: on a real one, a loaded machine descheduling the process is lag.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance', 'Date'] });
    const onLag = vi.fn();
    start({ thresholdMs: 100, resolutionMs: 10, onLag });
    await vi.advanceTimersByTimeAsync(250);
    expect(onLag).not.toHaveBeenCalled();
  });

  it('gives the p50, p99 and max delay in milliseconds, and forgets them on reset', async () => {
    const monitor = start({ resolutionMs: 5 });
    expect(monitor.stats()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, samples: 0 });
    await wait(20);
    block(60);
    await wait(20);
    const stats = monitor.stats();
    expect(stats.samples).toBeGreaterThan(0);
    expect(stats.p50Ms).toBeLessThanOrEqual(stats.p99Ms);
    expect(stats.p99Ms).toBeLessThanOrEqual(stats.maxMs);
    expect(stats.maxMs).toBeGreaterThanOrEqual(40);
    monitor.reset();
    expect(monitor.stats().samples).toBe(0);
  });

  it('never keeps the process alive: its timer is unref’d', () => {
    const before = timeouts();
    start();
    expect(timeouts()).toBe(before);
  });

  it('removes its timer on dispose, and dispose is idempotent', () => {
    vi.useFakeTimers();
    const monitor = monitorEventLoop();
    expect(vi.getTimerCount()).toBe(1);
    monitor.dispose();
    monitor.dispose();
    expect(monitor.disposed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is disposed by using', () => {
    vi.useFakeTimers();
    let escaped: EventLoopMonitor | undefined;
    {
      using monitor = monitorEventLoop();
      escaped = monitor;
    }
    expect(escaped.disposed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is disposed when its signal aborts, or at once when it already has', () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const monitor = monitorEventLoop({ signal: controller.signal });
    controller.abort();
    expect(monitor.disposed).toBe(true);
    expect(monitorEventLoop({ signal: AbortSignal.abort() }).disposed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('turns an error thrown by onLag into a process warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    start({
      thresholdMs: 20,
      resolutionMs: 5,
      onLag: () => {
        throw new Error('logger down');
      },
    });
    await wait(10);
    block(60);
    await wait(20);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('logger down'), expect.objectContaining({ code: 'SKEIN_ONLAG_FAILED' }));
  });

  it('rejects invalid options with a message that says what is allowed', () => {
    expect(() => monitorEventLoop('fast' as any)).toThrow(/options must be an object/);
    expect(() => monitorEventLoop({ thresholdMs: -1 })).toThrow(/thresholdMs must be a number of milliseconds >= 0, got -1/);
    expect(() => monitorEventLoop({ resolutionMs: 0 })).toThrow(/resolutionMs must be an integer from 1 to 60000, got 0/);
    expect(() => monitorEventLoop({ resolutionMs: 2.5 })).toThrow(/resolutionMs/);
    expect(() => monitorEventLoop({ onLag: 'log' as any })).toThrow(/onLag must be a function/);
    expect(() => monitorEventLoop({ signal: {} as any })).toThrow(/signal must be an AbortSignal/);
  });
});
