import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCancellation, TimeoutError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { every } from './every.js';
import { main, type MainOptions } from './main.js';
import { ShutdownError } from './shutdown-error.js';

const EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException', 'unhandledRejection'];

/** A fake process: signals and uncaught errors are emitted by the test; exit and reports are recorded. */
function harness(overrides: Partial<MainOptions> = {}) {
  const host = new EventEmitter();
  const exit = vi.fn<(code: number) => void>();
  const errors: unknown[] = [];
  const options: MainOptions = { process: host, exit, onError: (error) => errors.push(error), ...overrides };
  const listeners = () => EVENTS.reduce((sum, event) => sum + host.listenerCount(event), 0);
  return { host, exit, errors, options, listeners };
}

/** Lets the body start (and reach its first await). */
const started = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('main', () => {
  it('exits with 0 after a body that succeeds, running cleanups in reverse order', async () => {
    const { options, exit, errors, listeners } = harness();
    const order: string[] = [];
    const code = await main((_signal, { onCleanup }) => {
      onCleanup(() => void order.push('database'));
      onCleanup(async () => {
        await sleep(1);
        order.push('server');
      });
      order.push('body');
    }, options);
    expect(code).toBe(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(order).toEqual(['body', 'server', 'database']);
    expect(errors).toEqual([]);
    expect(listeners()).toBe(0);
  });

  it('unwinds on SIGTERM: aborts with a ShutdownError, waits for the scope, cleans up in reverse, exits 143', async () => {
    const { host, options, exit, errors, listeners } = harness();
    const order: string[] = [];
    let reason: unknown;
    const code = main(async (signal, { group, onCleanup }) => {
      onCleanup(() => void order.push('cleanup 1'));
      onCleanup(() => void order.push('cleanup 2'));
      group.spawn(async (child) => {
        await sleep(Infinity, { signal: child }).catch(async (error: unknown) => {
          await sleep(5); // a child that takes a moment to finish its work
          order.push('child unwound');
          throw error;
        });
      });
      await sleep(Infinity, { signal }).catch((error: unknown) => {
        reason = error;
        order.push('body unwound');
        throw error;
      });
    }, options);
    await started();
    expect(listeners()).toBeGreaterThan(0);
    host.emit('SIGTERM', 'SIGTERM');
    expect(await code).toBe(143);
    expect(exit).toHaveBeenCalledExactlyOnceWith(143);
    expect(reason).toBeInstanceOf(ShutdownError);
    expect(reason).toMatchObject({ signal: 'SIGTERM', message: 'received SIGTERM' });
    expect(isCancellation(reason)).toBe(true);
    expect(order).toEqual(['body unwound', 'child unwound', 'cleanup 2', 'cleanup 1']);
    expect(errors).toEqual([]);
    expect(listeners()).toBe(0);
  });

  it('exits with 130 on SIGINT', async () => {
    const { host, options } = harness();
    const code = main((signal) => sleep(Infinity, { signal }), options);
    await started();
    host.emit('SIGINT', 'SIGINT');
    expect(await code).toBe(130);
  });

  it('listens to the signals it is given, exiting with 128 + their number', async () => {
    const { host, options, listeners } = harness({ signals: ['SIGHUP'] });
    const code = main((signal) => sleep(Infinity, { signal }), options);
    await started();
    expect(host.listenerCount('SIGTERM')).toBe(0);
    host.emit('SIGHUP', 'SIGHUP');
    expect(await code).toBe(129);
    expect(listeners()).toBe(0);
  });

  it('cuts off a hung cleanup when the shutdown timeout passes, and aborts its signal', async () => {
    vi.useFakeTimers();
    const { host, options, exit, errors, listeners } = harness({ shutdownTimeoutMs: 1_000 });
    let cleanupSignal: AbortSignal | undefined;
    const firstRegistered = vi.fn();
    const code = main((signal, { onCleanup }) => {
      onCleanup(firstRegistered);
      onCleanup((cleanup) => {
        cleanupSignal = cleanup;
        return new Promise(() => {}); // never settles
      });
      return sleep(Infinity, { signal });
    }, options);
    await vi.advanceTimersByTimeAsync(0);
    host.emit('SIGTERM', 'SIGTERM');
    await vi.advanceTimersByTimeAsync(999);
    expect(exit).not.toHaveBeenCalled();
    expect(cleanupSignal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await code).toBe(143);
    expect(exit).toHaveBeenCalledExactlyOnceWith(143);
    expect(cleanupSignal?.aborted).toBe(true);
    expect(firstRegistered).not.toHaveBeenCalled();
    expect(errors).toEqual([expect.any(TimeoutError)]);
    expect(listeners()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('exits at once on a second signal during the shutdown', async () => {
    vi.useFakeTimers();
    const { host, options, exit, errors, listeners } = harness();
    const code = main((_signal, { onCleanup }) => {
      onCleanup(() => new Promise(() => {})); // a cleanup that hangs
    }, options);
    await vi.advanceTimersByTimeAsync(0);
    // The body is done; the shutdown is stuck in the cleanup. Ctrl-C:
    host.emit('SIGINT', 'SIGINT');
    expect(await code).toBe(130);
    expect(exit).toHaveBeenCalledExactlyOnceWith(130);
    expect(errors).toEqual([expect.objectContaining({ signal: 'SIGINT', message: expect.stringMatching(/during shutdown/) })]);
    expect(listeners()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('forces the exit on a second signal while the body ignores the first', async () => {
    vi.useFakeTimers();
    const onStraggler = vi.fn();
    const { host, options, exit } = harness({ graceMs: 5_000, onStraggler });
    const code = main(() => new Promise(() => {}), options);
    await vi.advanceTimersByTimeAsync(0);
    host.emit('SIGTERM', 'SIGTERM');
    await vi.advanceTimersByTimeAsync(1_000);
    host.emit('SIGTERM', 'SIGTERM');
    expect(await code).toBe(143);
    expect(exit).toHaveBeenCalledOnce();
    // The root scope is still giving its stuck body the grace period; in a real process the exit ended it.
    await vi.advanceTimersByTimeAsync(4_000);
    expect(onStraggler).toHaveBeenCalledWith(expect.objectContaining({ operation: 'scope', graceMs: 5_000 }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a failed body, still runs the cleanups, and exits with 1', async () => {
    const { options, errors } = harness();
    const boom = new Error('could not bind port');
    const cleanup = vi.fn();
    const code = await main((_signal, { onCleanup }) => {
      onCleanup(cleanup);
      throw boom;
    }, options);
    expect(code).toBe(1);
    expect(errors).toEqual([boom]);
    expect(cleanup).toHaveBeenCalledOnce();
  });

  it('reports a failing cleanup, runs the others, and exits with 1', async () => {
    const { options, errors } = harness();
    const boom = new Error('flush failed');
    const other = vi.fn();
    const code = await main((_signal, { onCleanup }) => {
      onCleanup(other);
      onCleanup(() => Promise.reject(boom));
    }, options);
    expect(code).toBe(1);
    expect(errors).toEqual([boom]);
    expect(other).toHaveBeenCalledOnce();
  });

  it('turns an uncaught exception into a reported, orderly shutdown with exit code 1', async () => {
    const { host, options, errors, listeners } = harness();
    const crash = new Error('thrown from a callback');
    let reason: unknown;
    const cleanup = vi.fn();
    const code = main(async (signal, { onCleanup }) => {
      onCleanup(cleanup);
      await sleep(Infinity, { signal }).catch((error: unknown) => {
        reason = error;
      });
    }, options);
    await started();
    host.emit('uncaughtException', crash);
    expect(await code).toBe(1);
    expect(errors).toEqual([crash]);
    expect(reason).toBeInstanceOf(ShutdownError);
    expect((reason as ShutdownError).cause).toBe(crash);
    expect(cleanup).toHaveBeenCalledOnce();
    expect(listeners()).toBe(0);
  });

  it('turns an unhandled rejection into a reported, orderly shutdown with exit code 1', async () => {
    const { host, options, errors } = harness();
    const lost = new Error('nobody awaited me');
    const code = main((signal) => sleep(Infinity, { signal }), options);
    await started();
    host.emit('unhandledRejection', lost, Promise.resolve());
    expect(await code).toBe(1);
    expect(errors).toEqual([lost]);
  });

  it('stops periodic work spawned in the root scope before the cleanups run', async () => {
    vi.useFakeTimers();
    const { host, options } = harness();
    const events: string[] = [];
    const code = main((_signal, { group, onCleanup }) => {
      group.spawn((signal) => every(100, () => void events.push('tick'), { signal }));
      onCleanup(() => void events.push('cleanup'));
    }, options);
    await vi.advanceTimersByTimeAsync(250);
    host.emit('SIGTERM', 'SIGTERM');
    expect(await code).toBe(143);
    expect(events).toEqual(['tick', 'tick', 'cleanup']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets a cleanup be unregistered', async () => {
    const { options } = harness();
    const cleanup = vi.fn();
    await main((_signal, { onCleanup }) => {
      const unregister = onCleanup(cleanup);
      unregister();
    }, options);
    expect(cleanup).not.toHaveBeenCalled();
  });

  it('listens on the real process by default and removes every listener it added', async () => {
    const before = EVENTS.map((event) => process.listenerCount(event));
    const exit = vi.fn();
    let during: number[] = [];
    const code = await main(
      () => {
        during = EVENTS.map((event) => process.listenerCount(event));
      },
      { exit },
    );
    expect(code).toBe(0);
    expect(during.slice(0, 2)).toEqual([before[0]! + 1, before[1]! + 1]);
    expect(EVENTS.map((event) => process.listenerCount(event))).toEqual(before);
    expect(exit).toHaveBeenCalledWith(0);
  });

  it('rejects invalid arguments with a message that says what is allowed', () => {
    const { options } = harness();
    expect(() => main('app' as any, options)).toThrow(/body must be a function/);
    expect(() => main(() => {}, 'now' as any)).toThrow(/options must be an object/);
    expect(() => main(() => {}, { ...options, shutdownTimeoutMs: -1 })).toThrow(/shutdownTimeoutMs must be a number of milliseconds >= 0, got -1/);
    expect(() => main(() => {}, { ...options, signals: ['SIGNOPE' as any] })).toThrow(/signals must be an array of signal names/);
    expect(() => main(() => {}, { ...options, signals: 'SIGTERM' as any })).toThrow(/signals must be an array/);
    expect(() => main(() => {}, { ...options, exit: 1 as any })).toThrow(/exit must be a function/);
    expect(() => main(() => {}, { ...options, process: {} as any })).toThrow(/process must have on\(\) and off\(\)/);
    expect(() => main(() => {}, { ...options, onError: 'log' as any })).toThrow(/onError must be a function/);
    expect(() => main(() => {}, { ...options, graceMs: -1 })).toThrow(/graceMs/);
  });

  it('rejects a cleanup that is not a function', async () => {
    const { options, errors } = harness();
    const code = await main((_signal, { onCleanup }) => {
      onCleanup('close' as any);
    }, options);
    expect(code).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/cleanup must be a function/) })]);
  });
});
