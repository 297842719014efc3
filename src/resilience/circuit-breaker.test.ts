import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred } from '../../test/helpers.js';
import { CancelledError, suppressedErrors } from '../core/errors.js';
import { BrokenCircuitError } from './broken-circuit-error.js';
import { CircuitBreaker, type CircuitBreakerSnapshot, type StateChange } from './circuit-breaker.js';
import { consecutive } from './consecutive.js';
import { failureRate } from './failure-rate.js';

const boom = () => Promise.reject(new Error('boom'));
const fine = () => Promise.resolve('fine');
const fail = (breaker: CircuitBreaker) => breaker.execute(boom).catch((e: unknown) => e);

function watch(breaker: CircuitBreaker): string[] {
  const seen: string[] = [];
  breaker.onStateChange(({ from, to }: StateChange) => seen.push(`${from}->${to}`));
  return seen;
}

describe('CircuitBreaker', () => {
  it('starts closed and passes calls through with the caller signal itself', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(3) });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await expect(breaker.execute((signal) => ((seen = signal), 7), { signal: controller.signal })).resolves.toBe(7);
    expect(seen).toBe(controller.signal);
    expect(breaker.state).toBe('closed');
  });

  it('opens after the policy says so and then refuses at once without calling the task', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(2), openMs: 1_000 });
    const rejected: BrokenCircuitError[] = [];
    breaker.onReject((error) => rejected.push(error));
    await fail(breaker);
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(400);
    const task = vi.fn(fine);
    const error = await breaker.execute(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(error).toMatchObject({ isolated: false, retryAfterMs: 600, name: 'BrokenCircuitError' });
    expect(task).not.toHaveBeenCalled();
    expect(rejected).toEqual([error]);
    expect(breaker.stats).toMatchObject({ failures: 2, rejections: 1, openings: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('turns half-open after openMs, closes on a probe success', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 1_000 });
    const seen = watch(breaker);
    await fail(breaker);
    await vi.advanceTimersByTimeAsync(999);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(fine)).resolves.toBe('fine');
    expect(breaker.state).toBe('closed');
    expect(seen).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('reopens for another openMs when a probe fails', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 1_000 });
    const seen = watch(breaker);
    await fail(breaker);
    await vi.advanceTimersByTimeAsync(1_000);
    await fail(breaker);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(999);
    expect(breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(breaker.state).toBe('half-open');
    expect(seen).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open']);
  });

  it('lets at most halfOpenMaxCalls probes run at once and refuses the others', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 10, halfOpenMaxCalls: 2 });
    await fail(breaker);
    await vi.advanceTimersByTimeAsync(10);
    const first = deferred<string>();
    const second = deferred<string>();
    const probes = [breaker.execute(() => first.promise), breaker.execute(() => second.promise)];
    expect(breaker.stats.probes).toBe(2);
    const refused = await breaker.execute(fine).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrokenCircuitError);
    expect((refused as BrokenCircuitError).retryAfterMs).toBe(0);
    first.resolve('a');
    await probes[0];
    expect(breaker.state).toBe('closed');
    // The other probe's outcome belongs to the half-open period that ended: it changes nothing.
    second.reject(new Error('late'));
    await expect(probes[1]).rejects.toThrow('late');
    expect(breaker.state).toBe('closed');
    expect(breaker.stats.probes).toBe(0);
  });

  it('frees a probe slot when a probe ends in a cancellation, without deciding anything', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 10 });
    await fail(breaker);
    await vi.advanceTimersByTimeAsync(10);
    await breaker.execute(() => Promise.reject(new CancelledError())).catch(() => {});
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats.probes).toBe(0);
    await breaker.execute(fine);
    expect(breaker.state).toBe('closed');
  });

  it('ignores the late failure of a call that started before the breaker opened', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 100 });
    const slow = deferred<never>();
    const slowCall = breaker.execute(() => slow.promise).catch(() => {});
    await fail(breaker);
    await vi.advanceTimersByTimeAsync(100);
    expect(breaker.state).toBe('half-open');
    slow.reject(new Error('late'));
    await slowCall;
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats.failures).toBe(2);
  });

  it('takes successive open times from a backoff and starts it over after closing', async () => {
    vi.useFakeTimers({ now: 0 });
    const breaker = new CircuitBreaker({ policy: consecutive(1), backoff: [100, 200] });
    const openTimes: number[] = [];
    breaker.onStateChange(({ to }) => {
      if (to === 'open') openTimes.push(Date.now());
    });
    const halfOpenAfter = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(breaker.state).toBe('open');
      await vi.advanceTimersByTimeAsync(1);
      expect(breaker.state).toBe('half-open');
    };
    await fail(breaker);
    await halfOpenAfter(100);
    await fail(breaker);
    await halfOpenAfter(200);
    await fail(breaker);
    await halfOpenAfter(200); // the backoff ran out: its last delay is kept
    await breaker.execute(fine);
    await fail(breaker);
    await halfOpenAfter(100); // closed in between: from the start again
    expect(openTimes).toEqual([0, 100, 300, 500]);
  });

  it('does not count a cancellation as a failure by default', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(1) });
    await breaker.execute(() => Promise.reject(new CancelledError())).catch(() => {});
    expect(breaker.state).toBe('closed');
    expect(breaker.stats.failures).toBe(0);
  });

  it('counts only what isFailure accepts', async () => {
    class NotFound extends Error {}
    const breaker = new CircuitBreaker({ policy: consecutive(1), isFailure: (error) => !(error instanceof NotFound) });
    await breaker.execute(() => Promise.reject(new NotFound())).catch(() => {});
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('counts a task that throws synchronously, and one that returns a plain value', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(2) });
    await expect(breaker.execute(() => 'plain')).resolves.toBe('plain');
    const thrown = new Error('sync');
    await expect(breaker.execute(() => { throw thrown; })).rejects.toBe(thrown);
    expect(breaker.stats).toMatchObject({ successes: 1, failures: 1, recentFailures: 1 });
  });

  it('rejects with the reason of a signal that already aborted, without calling the task or counting', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(1) });
    const controller = new AbortController();
    controller.abort(new CancelledError('gone'));
    const task = vi.fn(fine);
    await expect(breaker.execute(task, { signal: controller.signal })).rejects.toBe(controller.signal.reason);
    expect(task).not.toHaveBeenCalled();
    expect(breaker.stats).toMatchObject({ successes: 0, failures: 0, rejections: 0 });
  });

  it('fires onSuccess and onFailure, and stops when the subscription is disposed', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(5) });
    const events: unknown[] = [];
    const success = breaker.onSuccess(() => events.push('ok'));
    const failure = breaker.onFailure((error) => events.push((error as Error).message));
    await breaker.execute(fine);
    await fail(breaker);
    success.dispose();
    failure.dispose();
    await breaker.execute(fine);
    await fail(breaker);
    expect(events).toEqual(['ok', 'boom']);
  });

  describe('isolate', () => {
    it('holds the breaker open until released, then closes it', async () => {
      const breaker = new CircuitBreaker({ policy: consecutive(5) });
      const seen = watch(breaker);
      const hold = breaker.isolate();
      expect(breaker.state).toBe('open');
      expect(breaker.isolated).toBe(true);
      const error = await breaker.execute(fine).catch((e: unknown) => e);
      expect(error).toMatchObject({ isolated: true, retryAfterMs: Infinity });
      hold.release();
      hold.release();
      expect(breaker.state).toBe('closed');
      await expect(breaker.execute(fine)).resolves.toBe('fine');
      expect(seen).toEqual(['closed->open', 'open->closed']);
    });

    it('stays isolated past openMs and until the last hold is released', async () => {
      vi.useFakeTimers({ now: 0 });
      const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 10 });
      await fail(breaker);
      const first = breaker.isolate();
      const second = breaker.isolate();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(breaker.state).toBe('open');
      first.release();
      expect(breaker.state).toBe('open');
      second[Symbol.dispose]();
      expect(breaker.state).toBe('closed');
      expect(breaker.stats.openings).toBe(1);
    });
  });

  it('validates its options', () => {
    const policy = consecutive(1);
    expect(() => new CircuitBreaker(undefined as never)).toThrow(/needs options/);
    expect(() => new CircuitBreaker({} as never)).toThrow(/policy must be a breaking policy/);
    expect(() => new CircuitBreaker({ policy, openMs: -1 })).toThrow(/openMs/);
    expect(() => new CircuitBreaker({ policy, openMs: 5, backoff: [1] })).toThrow(/not both/);
    expect(() => new CircuitBreaker({ policy, backoff: [] })).toThrow(/at least one delay/);
    expect(() => new CircuitBreaker({ policy, halfOpenMaxCalls: 0 })).toThrow(/halfOpenMaxCalls must be an integer >= 1, got 0/);
    expect(() => new CircuitBreaker({ policy, isFailure: 'yes' as never })).toThrow(/isFailure must be a function/);
    const breaker = new CircuitBreaker({ policy });
    expect(() => breaker.execute('task' as never)).toThrow(/task must be a function/);
    expect(() => breaker.execute(fine, { signal: 1 as never })).toThrow(/options.signal/);
  });

  it('keeps its state one of three and its counters >= 0 under any sequence of calls and time', async () => {
    type Step = { kind: 'ok' } | { kind: 'fail' } | { kind: 'cancel' } | { kind: 'wait'; ms: number } | { kind: 'isolate' } | { kind: 'release' } | { kind: 'hang' } | { kind: 'settleHung'; ok: boolean };
    const step = fc.oneof(
      fc.constant<Step>({ kind: 'ok' }),
      fc.constant<Step>({ kind: 'fail' }),
      fc.constant<Step>({ kind: 'cancel' }),
      fc.integer({ min: 0, max: 3_000 }).map((ms): Step => ({ kind: 'wait', ms })),
      fc.constant<Step>({ kind: 'isolate' }),
      fc.constant<Step>({ kind: 'release' }),
      fc.constant<Step>({ kind: 'hang' }),
      fc.boolean().map((ok): Step => ({ kind: 'settleHung', ok })),
    );
    const policies = fc.oneof(
      fc.integer({ min: 1, max: 4 }).map((n) => consecutive(n)),
      fc
        .record({ threshold: fc.double({ min: 0.01, max: 1, noNaN: true }), minCalls: fc.integer({ min: 1, max: 5 }), windowMs: fc.integer({ min: 1, max: 5_000 }) })
        .map((options) => failureRate(options)),
    );
    vi.useFakeTimers({ now: 0 });
    await fc.assert(
      fc.asyncProperty(policies, fc.integer({ min: 1, max: 3 }), fc.array(step, { maxLength: 60 }), async (policy, halfOpenMaxCalls, steps) => {
        const breaker = new CircuitBreaker({ policy, openMs: 500, halfOpenMaxCalls });
        const holds: { release(): void }[] = [];
        const hung: { resolve: (v: string) => void; reject: (e: unknown) => void; promise: Promise<unknown> }[] = [];
        const check = () => {
          expect(['closed', 'open', 'half-open']).toContain(breaker.state);
          const stats = breaker.stats;
          for (const value of Object.values(stats)) expect(value).toBeGreaterThanOrEqual(0);
          expect(stats.recentFailures).toBeLessThanOrEqual(stats.recentCalls);
          expect(stats.probes).toBeLessThanOrEqual(halfOpenMaxCalls);
        };
        for (const s of steps) {
          if (s.kind === 'ok') await breaker.execute(fine).catch(() => {});
          else if (s.kind === 'fail') await fail(breaker);
          else if (s.kind === 'cancel') await breaker.execute(() => Promise.reject(new CancelledError())).catch(() => {});
          else if (s.kind === 'wait') vi.setSystemTime(Date.now() + s.ms);
          else if (s.kind === 'isolate') holds.push(breaker.isolate());
          else if (s.kind === 'release') holds.shift()?.release();
          else if (s.kind === 'hang') {
            const d = deferred<string>();
            d.promise.catch(() => {}); // the breaker may refuse the call and never look at it
            hung.push({ ...d, promise: breaker.execute(() => d.promise).catch(() => {}) });
          } else {
            const h = hung.shift();
            if (h) {
              if (s.ok) h.resolve('late');
              else h.reject(new Error('late'));
              await h.promise;
            }
          }
          check();
        }
        for (const h of hung) h.resolve('end');
        await Promise.all(hung.map((h) => h.promise));
        check();
      }),
      { numRuns: 300 },
    );
  });
});

describe('CircuitBreaker, with a predicate that throws and a caller that aborts', () => {
  it('rejects the call with the error of an isFailure that throws, keeping the task error reachable', async () => {
    const broken = new Error('predicate bug');
    const breaker = new CircuitBreaker({ policy: consecutive(5), isFailure: () => { throw broken; } });
    const failure = new Error('task failed');
    await expect(breaker.execute(() => Promise.reject(failure))).rejects.toBe(broken);
    await expect(breaker.execute(() => { throw failure; })).rejects.toBe(broken);
    expect(suppressedErrors(broken)).toEqual([failure]);
    expect(breaker.stats.failures).toBe(2);
  });

  it('rejects with the abort reason when the task succeeds after the caller aborted, and counts the success', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(5) });
    const controller = new AbortController();
    const outcome = breaker.execute(async () => {
      controller.abort(new Error('caller left'));
      return 'late value';
    }, { signal: controller.signal });
    await expect(outcome).rejects.toThrow('caller left');
    expect(breaker.stats.successes).toBe(1);
  });
});

describe('CircuitBreaker half-open sampling and saved state', () => {
  const down = () => Promise.reject(new Error('down'));
  const ok = () => Promise.resolve('up');

  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes only after halfOpenSuccesses probes succeed, and reopens on a failing probe', async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 1_000, halfOpenMaxCalls: 2, halfOpenSuccesses: 3 });
    await breaker.execute(down).catch(() => {});
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1_000);
    expect(breaker.state).toBe('half-open');
    // Two probes at once; a third is refused while they run.
    const probes = [breaker.execute(ok), breaker.execute(ok)];
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    await Promise.all(probes);
    expect(breaker.state).toBe('half-open');
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    // The count starts over in the next half-open period, and a failing probe reopens.
    await breaker.execute(down).catch(() => {});
    vi.advanceTimersByTime(1_000);
    await breaker.execute(ok);
    await breaker.execute(down).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('saves its state as JSON and a new breaker restores it', async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ policy: consecutive(1), openMs: 5_000 });
    expect(breaker.toJSON()).toEqual({ state: 'closed' });
    await breaker.execute(down).catch(() => {});
    const saved = JSON.parse(JSON.stringify(breaker)) as unknown;
    expect(saved).toEqual({ state: 'open', openUntil: Date.now() + 5_000 });
    const restored = new CircuitBreaker({ policy: consecutive(1), restore: saved as CircuitBreakerSnapshot });
    expect(restored.state).toBe('open');
    await expect(restored.execute(ok)).rejects.toMatchObject({ retryAfterMs: 5_000 });
    vi.advanceTimersByTime(5_000);
    expect(restored.state).toBe('half-open');
    expect(restored.toJSON()).toEqual({ state: 'half-open' });
    const halfOpen = new CircuitBreaker({ policy: consecutive(1), restore: { state: 'half-open' } });
    expect(halfOpen.state).toBe('half-open');
    await halfOpen.execute(ok);
    expect(halfOpen.state).toBe('closed');
  });

  it('saves an isolated breaker as closed (a hold belongs to its process)', () => {
    const breaker = new CircuitBreaker({ policy: consecutive(1) });
    const hold = breaker.isolate();
    expect(breaker.toJSON()).toEqual({ state: 'closed' });
    hold.release();
  });

  it('rejects a malformed saved state and bad sampling options', () => {
    const policy = consecutive(1);
    expect(() => new CircuitBreaker({ policy, restore: { state: 'ajar' } as any })).toThrow(/restore.state must be/);
    expect(() => new CircuitBreaker({ policy, restore: { state: 'open' } })).toThrow(/restore.openUntil/);
    expect(() => new CircuitBreaker({ policy, restore: { state: 'closed', openUntil: 1 } })).toThrow(/restore.openUntil/);
    expect(() => new CircuitBreaker({ policy, restore: { state: 'closed', since: 1 } as any })).toThrow(/no option "since"/);
    expect(() => new CircuitBreaker({ policy, halfOpenSuccesses: 0 })).toThrow(/halfOpenSuccesses/);
  });
});

describe('CircuitBreaker events', () => {
  it('take a signal that ends the subscription, as every skein event does', async () => {
    const breaker = new CircuitBreaker({ policy: consecutive(5) });
    const controller = new AbortController();
    const failures: unknown[] = [];
    breaker.onFailure((error) => failures.push(error), { signal: controller.signal });
    await breaker.execute(() => Promise.reject(new Error('first'))).catch(() => {});
    controller.abort();
    await breaker.execute(() => Promise.reject(new Error('second'))).catch(() => {});
    expect(failures.map((error) => (error as Error).message)).toEqual(['first']);
  });

  it('report a listener that throws as a warning, and the call still settles as it would', async () => {
    const warnings: string[] = [];
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation((warning: string | Error) => void warnings.push(String(warning)));
    try {
      const breaker = new CircuitBreaker({ policy: consecutive(5) });
      const off = breaker.onSuccess(() => {
        throw new Error('listener bug');
      });
      expect(await breaker.execute(async () => 'value')).toBe('value');
      off();
      expect(warnings).toEqual(['skein: a CircuitBreaker onSuccess listener threw: Error: listener bug']);
    } finally {
      emitWarning.mockRestore();
    }
  });
});
