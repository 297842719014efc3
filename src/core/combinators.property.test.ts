/**
 * Properties over every interleaving fast-check's scheduler can produce. Each child finishes at a
 * scheduled point; a child that honours its signal also rejects, at a scheduled point, once aborted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gather } from './gather.js';
import { race } from './race.js';
import { scope, type TaskGroup } from './scope.js';

interface Entry {
  readonly index: number;
  readonly kind: 'fulfilled' | 'failed' | 'cancelled';
}

/** A child that fulfils or fails at a scheduled point, or rejects with the abort reason if that comes first. */
function scheduledChild(s: fc.Scheduler, index: number, fails: boolean, honoursAbort: boolean, log: Entry[]) {
  const error = new Error(`child ${index} failed`);
  return {
    error,
    task: (signal: AbortSignal) =>
      new Promise<number>((resolve, reject) => {
        let settled = false;
        const settle = (kind: Entry['kind'], act: () => void) => {
          if (settled) return;
          settled = true;
          log.push({ index, kind });
          act();
        };
        void s.schedule(Promise.resolve(), `child ${index}`).then(() =>
          settle(fails ? 'failed' : 'fulfilled', () => (fails ? reject(error) : resolve(index))),
        );
        if (honoursAbort) {
          signal.addEventListener(
            'abort',
            () => void s.schedule(Promise.resolve(), `abort ${index}`).then(() => settle('cancelled', () => reject(signal.reason))),
            { once: true },
          );
        }
      }),
  };
}

/** Captures how `promise` settles, and how many children had settled by then. */
function observe(promise: Promise<unknown>, log: readonly Entry[]) {
  let settledAfter = -1;
  const outcome = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  void outcome.then(() => (settledAfter = log.length));
  return { outcome, settledAfter: () => settledAfter };
}

const children = fc.array(fc.record({ fails: fc.boolean(), honoursAbort: fc.boolean() }), { minLength: 1, maxLength: 6 });

describe('properties under any interleaving', () => {
  it('gather settles only after every child settled, and reports the first failure in time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), children, async (s, specs) => {
        const log: Entry[] = [];
        const made = specs.map((spec, i) => scheduledChild(s, i, spec.fails, spec.honoursAbort, log));
        const observed = observe(gather(made.map((m) => m.task), { graceMs: Infinity }), log);
        await s.waitAll();
        const result = await observed.outcome;
        expect(observed.settledAfter()).toBe(specs.length);
        const firstFailure = log.find((entry) => entry.kind === 'failed');
        if (firstFailure === undefined) {
          expect(result).toEqual({ ok: true, value: specs.map((_, i) => i) });
        } else {
          expect(result).toEqual({ ok: false, error: made[firstFailure.index]!.error });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gather in settle mode reports every outcome and never aborts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), children, async (s, specs) => {
        const log: Entry[] = [];
        const made = specs.map((spec, i) => scheduledChild(s, i, spec.fails, spec.honoursAbort, log));
        const outcome = gather(made.map((m) => m.task), { settle: true });
        await s.waitAll();
        const result = await outcome;
        expect(log.every((entry) => entry.kind !== 'cancelled')).toBe(true);
        expect(result).toEqual(
          specs.map((spec, i) =>
            spec.fails ? { status: 'rejected', reason: made[i]!.error } : { status: 'fulfilled', value: i },
          ),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('scope settles only after every child settled; one failure is itself, several an AggregateError led by the first', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), children, async (s, specs) => {
        const log: Entry[] = [];
        const made = specs.map((spec, i) => scheduledChild(s, i, spec.fails, spec.honoursAbort, log));
        const body = (group: TaskGroup) => {
          for (const m of made) group.spawn(m.task);
          return 'body';
        };
        const observed = observe(scope(body, { graceMs: Infinity }), log);
        await s.waitAll();
        const result = await observed.outcome;
        expect(observed.settledAfter()).toBe(specs.length);
        const failures = log.filter((entry) => entry.kind === 'failed').map((entry) => made[entry.index]!.error);
        if (failures.length === 0) expect(result).toEqual({ ok: true, value: 'body' });
        else if (failures.length === 1) expect(result).toEqual({ ok: false, error: failures[0] });
        else {
          expect(result.ok).toBe(false);
          const error = (result as { error: unknown }).error;
          expect(error).toBeInstanceOf(AggregateError);
          expect((error as AggregateError).errors).toEqual(failures);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('race settles like the first child to settle, after every child settled', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), children, async (s, specs) => {
        const log: Entry[] = [];
        const made = specs.map((spec, i) => scheduledChild(s, i, spec.fails, spec.honoursAbort, log));
        const observed = observe(race(made.map((m) => m.task), { graceMs: Infinity }), log);
        await s.waitAll();
        const result = await observed.outcome;
        expect(observed.settledAfter()).toBe(specs.length);
        const first = log[0]!;
        expect(result).toEqual(
          first.kind === 'fulfilled' ? { ok: true, value: first.index } : { ok: false, error: made[first.index]!.error },
        );
      }),
      { numRuns: 200 },
    );
  });
});
