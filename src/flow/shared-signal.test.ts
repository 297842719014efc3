/**
 * Many waits on one signal (a server's shutdown signal, a `map`'s signal): each primitive instance
 * adds one `abort` listener per signal, whatever the number of waits, and removes it with the last.
 */
import { describe, expect, it } from 'vitest';
import { abortListenerCount, captureWarnings, deferred, nextTick } from '../../test/helpers.js';
import { RateLimiter } from './rate-limiter.js';
import { Semaphore } from './semaphore.js';
import { TaskQueue } from './task-queue.js';

const WAITS = 1_000;
const warnings = captureWarnings();

describe('one signal shared by 1,000 waits', () => {
  it('RateLimiter: waits and runs add one listener, abort rejects every wait, none is left', async () => {
    const limiter = new RateLimiter({ limit: 1, intervalMs: 60_000 });
    const controller = new AbortController();
    const signal = controller.signal;
    const gate = deferred();
    const running = limiter.run(() => gate.promise, { signal });
    const waits = Array.from({ length: WAITS }, (_, i) =>
      i % 2 === 0 ? limiter.acquire({ signal }) : limiter.run(() => 'never called', { signal }),
    );
    expect(limiter.waiting).toBe(WAITS);
    expect(abortListenerCount(signal)).toBe(1);
    await nextTick();
    expect(warnings).toEqual([]);
    const reason = new Error('shutting down');
    controller.abort(reason);
    const outcomes = await Promise.allSettled(waits);
    expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason === reason)).toBe(true);
    expect(limiter.waiting).toBe(0);
    gate.resolve();
    await expect(running).rejects.toBe(reason);
    expect(abortListenerCount(signal)).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('RateLimiter: the listener goes when the last wait is served, not before', async () => {
    const limiter = new RateLimiter({ limit: 1, intervalMs: 20 });
    const signal = new AbortController().signal;
    const waits = Array.from({ length: 3 }, () => limiter.acquire({ signal }));
    expect(abortListenerCount(signal)).toBe(1);
    await waits[0];
    expect(abortListenerCount(signal)).toBe(1);
    await Promise.all(waits);
    expect(abortListenerCount(signal)).toBe(0);
  });

  it('Semaphore: 1,000 waiting acquires add one listener and leave none', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const controller = new AbortController();
    const waits = Array.from({ length: WAITS }, () => semaphore.acquire({ signal: controller.signal }));
    expect(abortListenerCount(controller.signal)).toBe(1);
    await nextTick();
    expect(warnings).toEqual([]);
    held.release();
    const first = await waits[0]!;
    expect(abortListenerCount(controller.signal)).toBe(1);
    first.release();
    controller.abort(new Error('stop'));
    const outcomes = await Promise.allSettled(waits.slice(1));
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(WAITS - 2);
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') outcome.value.release();
    expect(abortListenerCount(controller.signal)).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('TaskQueue: 1,000 queued tasks and an onIdle wait add one listener and leave none', async () => {
    const queue = new TaskQueue({ concurrency: 1 });
    const controller = new AbortController();
    const signal = controller.signal;
    const gate = deferred();
    const tasks = [queue.add(() => gate.promise, { signal })];
    for (let i = 1; i < WAITS; i++) tasks.push(queue.add(() => undefined, { signal }));
    const idle = queue.onIdle({ signal });
    expect(abortListenerCount(signal)).toBe(1);
    await nextTick();
    expect(warnings).toEqual([]);
    gate.resolve();
    await Promise.all(tasks);
    await idle;
    expect(abortListenerCount(signal)).toBe(0);
    expect(warnings).toEqual([]);
  });
});
