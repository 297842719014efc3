/**
 * Abort-heavy random schedules against real worker threads: every call must settle and `close()`
 * must resolve, whatever the pool's shape and wherever the aborts land (queued, handed to a thread
 * that has not started it yet, running, during close). Threads are real, so the schedule is drawn by
 * fast-check (seeded) and lands on real timing; a hang is caught by a watchdog that reports the
 * pool's state instead of the test timing out silently.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../core/errors.js';
import { WorkerPool } from './worker-pool.js';

void process.stdout;
void process.stderr;

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url);

/** When a call's signal aborts, relative to its submission. */
type AbortAt = 'never' | 'sync' | 'microtask' | 'immediate' | 'delay' | 'close';

interface CallPlan {
  readonly kind: 'echo' | 'spin' | 'forever';
  readonly spinMs: number;
  readonly abortAt: AbortAt;
  readonly abortDelayMs: number;
  readonly gapMs: number;
}

interface Plan {
  readonly maxThreads: number;
  readonly minThreads: number;
  readonly idleTimeoutMs: number;
  readonly warm: boolean;
  readonly calls: readonly CallPlan[];
  /** Close after this many calls were submitted (calls.length: after all of them). */
  readonly closeAfter: number;
  readonly force: boolean;
}

const callPlan: fc.Arbitrary<CallPlan> = fc.record({
  kind: fc.constantFrom('echo', 'spin', 'forever'),
  spinMs: fc.integer({ min: 1, max: 15 }),
  abortAt: fc.constantFrom<AbortAt>('never', 'sync', 'microtask', 'immediate', 'delay', 'delay', 'close'),
  abortDelayMs: fc.integer({ min: 0, max: 25 }),
  gapMs: fc.constantFrom(0, 0, 1, 3, 8),
});

const plan: fc.Arbitrary<Plan> = fc
  .record({
    maxThreads: fc.integer({ min: 1, max: 3 }),
    minFraction: fc.constantFrom(0, 0, 0.5, 1),
    idleTimeoutMs: fc.constantFrom(0, 5, 50, Number.POSITIVE_INFINITY),
    warm: fc.constantFrom(true, true, true, false),
    calls: fc.array(callPlan, { minLength: 1, maxLength: 10 }),
    // Half the schedules close after the last call, the others somewhere among the calls.
    closeAt: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 100 }).map((n) => n / 100)),
    force: fc.boolean(),
  })
  .map(({ minFraction, closeAt, calls, force, ...rest }) => ({
    ...rest,
    minThreads: Math.floor(rest.maxThreads * minFraction),
    force,
    // A graceful close waits for every call: a call that never returns must be aborted at some point.
    calls: force ? calls : calls.map((call) => (call.kind === 'forever' && call.abortAt === 'never' ? { ...call, abortAt: 'close' as const } : call)),
    closeAfter: Math.round(closeAt * calls.length),
  }));

/** Runs one schedule; resolves with a description of what hung, or undefined when everything settled. */
async function runPlan(p: Plan): Promise<string | undefined> {
  const pool = new WorkerPool<unknown, unknown>({
    filename: tasks,
    maxThreads: p.maxThreads,
    minThreads: p.minThreads,
    idleTimeoutMs: p.idleTimeoutMs,
  });
  if (p.warm) await Promise.all(Array.from({ length: p.maxThreads }, () => pool.run(0, { name: 'echo' })));
  const settled: Promise<unknown>[] = [];
  const atClose: AbortController[] = [];
  const pending = new Set<number>();
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
  let closed: Promise<void> | undefined;
  let closeSettled = false;
  const close = () => {
    closed = pool.close({ force: p.force }).then(() => {
      closeSettled = true;
    });
    for (const controller of atClose.splice(0)) controller.abort(new Error('aborted during close'));
  };

  for (const [index, call] of p.calls.entries()) {
    if (index === p.closeAfter) close();
    const controller = new AbortController();
    const input = call.kind === 'spin' ? call.spinMs : call.kind === 'echo' ? index : undefined;
    const reason = new Error(`abort ${index}`);
    const promise = pool.run(input, { name: call.kind, signal: controller.signal });
    pending.add(index);
    settled.push(
      promise.then(
        (value) => {
          pending.delete(index);
          if (call.kind === 'echo') expect(value).toBe(index);
          if (call.kind === 'forever') throw new Error(`call ${index} (forever) resolved`);
        },
        (error: unknown) => {
          pending.delete(index);
          const aborted = controller.signal.aborted && error === controller.signal.reason;
          const refused = closed !== undefined && error instanceof Error && error.name === 'WorkerPoolClosedError';
          const forced = p.force && error instanceof CancelledError;
          if (!aborted && !refused && !forced) throw error;
        },
      ),
    );
    switch (call.abortAt) {
      case 'never':
        break;
      case 'sync':
        controller.abort(reason);
        break;
      case 'microtask':
        queueMicrotask(() => controller.abort(reason));
        break;
      case 'immediate':
        setImmediate(() => controller.abort(reason));
        break;
      case 'delay':
        later(call.abortDelayMs, () => controller.abort(reason));
        break;
      case 'close':
        if (closed === undefined) atClose.push(controller);
        else later(call.abortDelayMs, () => controller.abort(reason));
        break;
    }
    if (call.gapMs > 0) await new Promise<void>((resolve) => later(call.gapMs, resolve));
  }
  if (closed === undefined) close();

  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    watchdog = setTimeout(() => {
      resolve(
        `hung: calls ${[...pending].join(',') || 'none'} pending, close ${closeSettled ? 'resolved' : 'pending'}, ` +
          `queued ${pool.queued}, threads ${pool.threads}, plan ${JSON.stringify(p)}`,
      );
    }, 30_000);
  });
  try {
    return await Promise.race([
      Promise.all([...settled, closed]).then(() => {
        expect(pool.threads).toBe(0);
        return undefined;
      }),
      hung,
    ]);
  } finally {
    clearTimeout(watchdog);
    for (const timer of timers) clearTimeout(timer);
    // A hung graceful close cannot be forced any more (close returns its first promise): the test has failed.
    if (!closeSettled) void pool.close({ force: true });
  }
}

describe('WorkerPool under abort-heavy random schedules', () => {
  it('settles every call and resolves close()', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(plan, async (p) => {
        const hung = await runPlan(p);
        expect(hung).toBeUndefined();
      }),
      { seed: 1_301, numRuns: 100, endOnFailure: true },
    );
  });
});
