import { describe, expect, expectTypeOf, it } from 'vitest';
import { CancelledError } from '../core/errors.js';
import { fallback } from './fallback.js';

describe('fallback', () => {
  it('passes a success through untouched', async () => {
    await expect(fallback('stand-in').execute(async () => 'real')).resolves.toBe('real');
  });

  it('resolves with the value when the task fails, whether it rejects or throws', async () => {
    const policy = fallback(0);
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBe(0);
    await expect(policy.execute(() => { throw new Error('x'); })).resolves.toBe(0);
  });

  it('calls a function with the error and the signal, and may be async', async () => {
    const controller = new AbortController();
    const error = new Error('503');
    const seen: unknown[] = [];
    const policy = fallback(async (e: unknown, signal: AbortSignal) => {
      seen.push(e, signal);
      return 'degraded';
    });
    await expect(policy.execute(() => Promise.reject(error), { signal: controller.signal })).resolves.toBe('degraded');
    expect(seen).toEqual([error, controller.signal]);
  });

  it('never replaces a cancellation, and rejects with the abort reason once the caller aborted', async () => {
    const cancelled = new CancelledError();
    await expect(fallback('x').execute(() => Promise.reject(cancelled))).rejects.toBe(cancelled);
    const controller = new AbortController();
    const failure = new Error('after abort');
    await expect(
      fallback('x').execute(
        () => {
          controller.abort();
          return Promise.reject(failure);
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe(controller.signal.reason);
  });

  it('replaces only what fallbackIf accepts', async () => {
    const policy = fallback('x', { fallbackIf: (error) => (error as Error).message === 'soft' });
    await expect(policy.execute(() => Promise.reject(new Error('soft')))).resolves.toBe('x');
    await expect(policy.execute(() => Promise.reject(new Error('hard')))).rejects.toThrow('hard');
  });

  it('rejects with the reason of an aborted signal without calling the task', async () => {
    const controller = new AbortController();
    controller.abort(new CancelledError());
    await expect(fallback('x').execute(() => 'never', { signal: controller.signal })).rejects.toBe(controller.signal.reason);
  });

  it('types the result as the task value or the stand-in', () => {
    expectTypeOf(fallback(0).execute(async () => 'a')).toEqualTypeOf<Promise<string | number>>();
    expectTypeOf(fallback(() => null).execute(async () => 'a')).toEqualTypeOf<Promise<string | null>>();
  });

  it('validates its arguments', () => {
    expect(() => fallback(1, { fallbackIf: 3 as never })).toThrow(/fallbackIf must be a function/);
    expect(() => fallback(1, 'x' as never)).toThrow(/options must be an object/);
    expect(() => fallback(1).execute(2 as never)).toThrow(/task must be a function/);
  });
});

describe('fallback when the caller aborts', () => {
  it('rejects with the abort reason when the task succeeds after the caller aborted', async () => {
    const controller = new AbortController();
    const outcome = fallback('stand-in').execute(async () => {
      controller.abort(new Error('caller left'));
      return 'late value';
    }, { signal: controller.signal });
    await expect(outcome).rejects.toThrow('caller left');
  });

  it('rejects with the abort reason, not the task error, when the task fails after the caller aborted', async () => {
    const controller = new AbortController();
    const outcome = fallback('stand-in').execute(async () => {
      controller.abort(new Error('caller left'));
      throw new Error('task failed');
    }, { signal: controller.signal });
    await expect(outcome).rejects.toThrow('caller left');
  });
});
