import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { CancelledError } from '../core/errors.js';
import { WorkerPool, WorkerPoolClosedError, type WorkerPoolOptions } from './worker-pool.js';

// A worker thread pipes its stdout and stderr into the parent's, which opens the parent's stdio
// handles on first use. They belong to the process, not to the pool: open them before the leak
// check takes its baseline.
void process.stdout;
void process.stderr;

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url);
const pools: WorkerPool<any, any>[] = [];

function open<In = unknown, Out = unknown>(options: Partial<WorkerPoolOptions> = {}): WorkerPool<In, Out> {
  const pool = new WorkerPool<In, Out>({ filename: tasks, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close({ force: true })));
});

/**
 * Starts `pool`'s threads and waits until they are ready: a call made on a ready, idle thread is
 * handed to it at once, so the next `run` is running (not queued) when it returns.
 */
async function warm(pool: WorkerPool<any, any>): Promise<void> {
  await Promise.all(Array.from({ length: pool.maxThreads }, () => pool.run(0, { name: 'echo' })));
}

describe('WorkerPool', () => {
  it('calls the default export with the input and resolves with its result', async () => {
    const pool = open<{ n: number }, { n: number }>();
    await expect(pool.run({ n: 42 })).resolves.toEqual({ n: 42 });
  });

  it('calls the export named by the call, or by the pool', async () => {
    const byCall = open<number, string>();
    const byPool = open<number, string>({ name: 'sha256' });
    const digest = await byCall.run(16, { name: 'sha256' });
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    await expect(byPool.run(16)).resolves.toBe(digest);
  });

  it('accepts a path, a file: URL string or a URL as filename', async () => {
    for (const filename of [fileURLToPath(tasks), tasks.href, tasks]) {
      await expect(open({ filename }).run('hi')).resolves.toBe('hi');
    }
  });

  it('keeps the main event loop responsive while a CPU-bound call runs', async () => {
    const pool = open<number, { ms: number }>({ maxThreads: 1, name: 'spin' });
    await warm(pool); // thread start-up is not what this test measures
    const blockMs = 400;
    let last = performance.now();
    let worstGapMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 5);
    try {
      const result = await pool.run(blockMs);
      expect(result.ms).toBeGreaterThanOrEqual(blockMs);
    } finally {
      clearInterval(ticker);
    }
    // On the main thread the ticker would have stalled for the whole block; offloaded, it keeps
    // ticking. Half the block leaves room for a loaded machine without hiding a real stall.
    expect(worstGapMs).toBeLessThan(blockMs / 2);
  });

  it('rejects with the name, message and stack of an error thrown in the worker', async () => {
    const pool = open<string, never>({ name: 'fail' });
    const error = await pool.run('bad input').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ name: 'RangeError', message: 'bad input' });
    expect((error as Error).stack).toContain('tasks.mjs');
  });

  it('rejects the waiting calls with the load error when the module cannot load', async () => {
    const pool = open({ filename: new URL('./fixtures/broken.mjs', import.meta.url) });
    const calls = await Promise.allSettled([pool.run(1), pool.run(2)]);
    expect(calls).toEqual([
      { status: 'rejected', reason: expect.objectContaining({ message: 'this module cannot load' }) },
      { status: 'rejected', reason: expect.objectContaining({ message: 'this module cannot load' }) },
    ]);
    await expect(pool.run(3)).rejects.toThrow('this module cannot load');
  });

  it('rejects a call to an export that does not exist', async () => {
    const pool = open();
    await expect(pool.run(1, { name: 'missing' })).rejects.toThrow(/No handler function exported/);
  });

  it('rejects at once, without queueing, when the signal is already aborted', async () => {
    const pool = open();
    const reason = new Error('already stopped');
    await expect(pool.run(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(pool.queued).toBe(0);
  });

  it('removes a queued call from the queue when its signal aborts, with the signal reason', async () => {
    const pool = open<number, unknown>({ maxThreads: 1, name: 'spin' });
    await warm(pool);
    const running = pool.run(300);
    const controller = new AbortController();
    const queued = pool.run(300, { signal: controller.signal });
    expect(pool.queued).toBe(1);
    const reason = new Error('not needed any more');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(pool.queued).toBe(0);
    await expect(running).resolves.toMatchObject({ iterations: expect.any(Number) });
  });

  it('ends a running call by terminating its thread, rejects with the signal reason, and keeps serving', async () => {
    const pool = open({ maxThreads: 1 });
    await warm(pool);
    const controller = new AbortController();
    const running = pool.run(undefined, { name: 'forever', signal: controller.signal });
    expect(pool.queued).toBe(0);
    const reason = new CancelledError('user gave up');
    const started = performance.now();
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(pool.run('still here')).resolves.toBe('still here');
  });

  it('runs the calls queued behind a running call whose abort took the last thread', async () => {
    // piscina replaces an aborted call's thread only up to minThreads (0 here): the queued call
    // would wait for a thread that never starts, and close() with it.
    const pool = open<unknown, unknown>({ maxThreads: 1 });
    await warm(pool);
    const controller = new AbortController();
    const running = pool.run(undefined, { name: 'forever', signal: controller.signal });
    const queued = pool.run('after the abort', { signal: new AbortController().signal });
    const unsignalled = pool.run('no signal');
    expect(pool.queued).toBe(2);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    await expect(queued).resolves.toBe('after the abort');
    await expect(unsignalled).resolves.toBe('no signal');
    await pool.close();
    expect(pool.threads).toBe(0);
  });

  it('lets running and queued calls finish on close, then refuses new ones', async () => {
    const pool = open<number, { ms: number }>({ maxThreads: 1, name: 'spin' });
    const first = pool.run(50);
    const second = pool.run(50);
    const closed = pool.close();
    expect(pool.closed).toBe(true);
    await expect(pool.run(1)).rejects.toBeInstanceOf(WorkerPoolClosedError);
    await expect(first).resolves.toMatchObject({ ms: expect.any(Number) });
    await expect(second).resolves.toMatchObject({ ms: expect.any(Number) });
    await closed;
    expect(pool.threads).toBe(0);
  });

  it('aborts running and queued calls on close({ force: true })', async () => {
    const pool = open({ maxThreads: 1 });
    await warm(pool);
    const running = pool.run(undefined, { name: 'forever' });
    const queued = pool.run(undefined, { name: 'forever' });
    expect(pool.queued).toBe(1);
    await pool.close({ force: true });
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    await expect(queued).rejects.toBeInstanceOf(CancelledError);
    expect(pool.threads).toBe(0);
  });

  it('force-closes calls that are still waiting for a thread to start', async () => {
    const pool = open({ maxThreads: 1 });
    const calls = [pool.run(undefined, { name: 'forever' }), pool.run(undefined, { name: 'forever' })];
    await pool.close({ force: true });
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(CancelledError);
    expect(pool.threads).toBe(0);
  });

  it('returns the same promise when closed twice', async () => {
    const pool = open();
    const first = pool.close();
    expect(pool.close({ force: true })).toBe(first);
    await first;
  });

  it('closes when disposed with await using', async () => {
    let escaped: WorkerPool<string, string> | undefined;
    {
      await using pool = new WorkerPool<string, string>({ filename: tasks });
      escaped = pool;
      await expect(pool.run('x')).resolves.toBe('x');
    }
    expect(escaped.closed).toBe(true);
    expect(escaped.threads).toBe(0);
  });

  it('is sized to the machine by default', async () => {
    const pool = open();
    expect(pool.maxThreads).toBe(availableParallelism());
    expect(pool.threads).toBe(0);
    await pool.close();
  });

  it('types run by the pool parameters', () => {
    const pool = open<number, string>();
    expectTypeOf<Parameters<typeof pool.run>[0]>().toEqualTypeOf<number>();
    expectTypeOf(pool.run(1)).toEqualTypeOf<Promise<string>>();
  });

  it('rejects invalid options with a message that says what is allowed', () => {
    expect(() => new WorkerPool(undefined as any)).toThrow(TypeError);
    expect(() => new WorkerPool({ filename: 42 as any })).toThrow(/filename must be a path/);
    expect(() => new WorkerPool({ filename: new URL('https://example.com/w.js') })).toThrow(/file: URL/);
    expect(() => new WorkerPool({ filename: tasks, maxThreads: 0 })).toThrow(/maxThreads must be an integer >= 1, got 0/);
    expect(() => new WorkerPool({ filename: tasks, maxThreads: 2, minThreads: 3 })).toThrow(/minThreads/);
    expect(() => new WorkerPool({ filename: tasks, idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
    expect(() => new WorkerPool({ filename: tasks, name: '' })).toThrow(/name must be/);
  });

  it('rejects invalid run and close arguments synchronously', () => {
    const pool = open();
    expect(() => pool.run(1, 'fast' as any)).toThrow(/options must be an object/);
    expect(() => pool.run(1, { signal: {} as any })).toThrow(/signal must be an AbortSignal/);
    expect(() => pool.run(1, { name: 3 as any })).toThrow(/options.name/);
    expect(() => pool.run(1, { transferList: 'x' as any })).toThrow(/transferList/);
    expect(() => pool.close({ force: 'yes' as any })).toThrow(/force must be a boolean/);
  });
});
