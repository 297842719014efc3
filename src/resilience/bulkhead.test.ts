import { describe, expect, it, vi } from 'vitest';
import { abortListenerCount, deferred, flushMicrotasks } from '../../test/helpers.js';
import { TimeoutError } from '../core/errors.js';
import { QueueFullError } from '../flow/task-queue.js';
import { bulkhead } from './bulkhead.js';
import { timeoutPolicy } from './timeout-policy.js';
import { wrap } from './wrap.js';

describe('bulkhead', () => {
  it('runs at most limit calls at once and queues the next ones in order', async () => {
    const pool = bulkhead({ limit: 2, queue: 5 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const calls = gates.map((gate, i) =>
      pool.execute(async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([pool.running, pool.queued]).toEqual([2, 2]);
    gates[1]!.resolve();
    await calls[1];
    await vi.waitFor(() => expect(started).toEqual([0, 1, 2]));
    for (const gate of gates) gate.resolve();
    await expect(Promise.all(calls)).resolves.toEqual([0, 1, 2, 3]);
    expect([pool.running, pool.queued]).toEqual([0, 0]);
  });

  it('refuses at once with a QueueFullError when every slot and queue place is taken, without calling the task', async () => {
    const pool = bulkhead({ limit: 1, queue: 1 });
    const gate = deferred();
    const running = pool.execute(() => gate.promise);
    const waiting = pool.execute(() => 'second');
    const task = vi.fn(() => 'third');
    await expect(pool.execute(task)).rejects.toBeInstanceOf(QueueFullError);
    expect(task).not.toHaveBeenCalled();
    gate.resolve();
    await running;
    await expect(waiting).resolves.toBe('second');
  });

  it('refuses at once by default when the slots are taken (queue 0)', async () => {
    const pool = bulkhead({ limit: 1 });
    const gate = deferred();
    const running = pool.execute(() => gate.promise);
    await expect(pool.execute(() => 1)).rejects.toBeInstanceOf(QueueFullError);
    gate.resolve();
    await running;
  });

  it('lets a waiting call leave the line when its signal aborts', async () => {
    const pool = bulkhead({ limit: 1, queue: 1 });
    const gate = deferred();
    const running = pool.execute(() => gate.promise);
    const controller = new AbortController();
    const task = vi.fn(() => 'never');
    const waiting = pool.execute(task, { signal: controller.signal });
    const reason = new Error('gave up waiting');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(pool.queued).toBe(0);
    expect(abortListenerCount(controller.signal)).toBe(0);
    gate.resolve();
    await running;
    expect(task).not.toHaveBeenCalled();
  });

  it('rejects with the reason of a signal that already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('before'));
    await expect(bulkhead({ limit: 1 }).execute(() => 1, { signal: controller.signal })).rejects.toThrow('before');
  });

  it('keeps the slot of a timed-out call until its task has settled', async () => {
    vi.useFakeTimers();
    const pool = bulkhead({ limit: 1, queue: 1 });
    const guarded = wrap(pool, timeoutPolicy(100));
    const cleanup = deferred();
    let sawAbort: unknown;
    const slow = guarded
      .execute(async (signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        sawAbort = signal.reason;
        await cleanup.promise; // closing a connection takes a while
      })
      .catch((e: unknown) => e);
    const next = vi.fn(() => 'next');
    const queued = guarded.execute(next);
    await vi.advanceTimersByTimeAsync(100);
    expect(sawAbort).toBeInstanceOf(TimeoutError);
    expect(pool.running).toBe(1); // the deadline passed, the task still runs: the slot stays taken
    expect(next).not.toHaveBeenCalled();
    cleanup.resolve();
    expect(await slow).toBeInstanceOf(TimeoutError);
    await expect(queued).resolves.toBe('next');
    expect(pool.running).toBe(0);
  });

  it('rejects with the abort reason after the grace period when a running task ignores its signal, keeping the slot', async () => {
    vi.useFakeTimers();
    const stragglers: unknown[] = [];
    const pool = bulkhead({ limit: 1, queue: 1, graceMs: 50, onStraggler: (report) => stragglers.push(report.operation) });
    const stubborn = deferred<string>();
    const controller = new AbortController();
    const call = pool.execute(() => stubborn.promise, { signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error('caller left');
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(50);
    expect(await call).toBe(reason);
    expect(stragglers).toHaveLength(1);
    expect(pool.running).toBe(1); // the task still runs, so its slot is still taken
    stubborn.resolve('late');
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.running).toBe(0);
  });

  it('hands the task the caller signal and the context', async () => {
    const controller = new AbortController();
    const seen = await bulkhead({ limit: 1 }).execute((signal, context) => [signal, context.attempt], {
      signal: controller.signal,
      context: { attempt: 2 },
    });
    expect(seen).toEqual([controller.signal, 2]);
  });

  it('validates its options', () => {
    expect(() => bulkhead(undefined as never)).toThrow(/needs options/);
    expect(() => bulkhead({ limit: 0 })).toThrow(/limit must be an integer >= 1, got 0/);
    expect(() => bulkhead({ limit: 1, queue: -1 })).toThrow(/queue must be an integer >= 0 or Infinity/);
    expect(() => bulkhead({ limit: 1, graceMs: -1 })).toThrow(/graceMs/);
    expect(() => bulkhead({ limit: 1 }).execute(5 as never)).toThrow(/task must be a function/);
  });
});

describe('bulkhead when the caller aborts between the grant and the call', () => {
  it('does not call the task and frees the slot', async () => {
    const pool = bulkhead({ limit: 1, queue: 1 });
    const first = deferred();
    const running = pool.execute(() => first.promise);
    const controller = new AbortController();
    const task = vi.fn(() => 'side effect');
    const outcome = pool.execute(task, { signal: controller.signal });
    await flushMicrotasks(); // the first call's task has been called
    // Runs right after the bulkhead's own handler released the slot to the waiting call, before that
    // call's continuation gets to run its task.
    void first.promise.then(() => controller.abort(new Error('caller left')));
    first.resolve();
    await running;
    await expect(outcome).rejects.toThrow('caller left');
    expect(task).not.toHaveBeenCalled();
    expect(pool.running).toBe(0);
  });
});
