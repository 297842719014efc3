import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { abortListenerCount, deferred, untilAborted } from '../../test/helpers.js';
import { CancelledError, ScopeClosedError, TimeoutError } from './errors.js';
import { scope, TaskGroup, type TaskHandle } from './scope.js';
import { linkSignal } from './signal.js';
import { sleep } from './sleep.js';

describe('scope', () => {
  it('resolves with the body value only after every child has settled', async () => {
    const child = deferred();
    const events: string[] = [];
    const running = scope(async (group) => {
      group.spawn(async () => {
        await child.promise;
        events.push('child done');
      });
      events.push('body done');
      return 'value';
    }).then((value) => events.push(`scope resolved ${value}`));
    await sleep(5);
    expect(events).toEqual(['body done']);
    child.resolve();
    await running;
    expect(events).toEqual(['body done', 'child done', 'scope resolved value']);
  });

  it('gives handles that resolve with the child value, typed', async () => {
    await scope(async (group) => {
      const handle = group.spawn(async () => 42);
      expectTypeOf(handle).toEqualTypeOf<TaskHandle<number>>();
      expect(await handle).toBe(42);
      expect(Object.prototype.toString.call(handle)).toBe('[object TaskHandle]');
    });
  });

  it('aborts siblings and the body when a child fails, and rejects with that failure', async () => {
    const boom = new Error('boom');
    let bodyReason: unknown;
    let siblingReason: unknown;
    const error = await scope(async (group) => {
      group.spawn(async (signal) => {
        await untilAborted(signal).catch((reason: unknown) => (siblingReason = reason));
      });
      group.spawn(() => Promise.reject(boom));
      await untilAborted(group.signal).catch((reason: unknown) => (bodyReason = reason));
    }).catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(siblingReason).toBeInstanceOf(CancelledError);
    expect((siblingReason as Error).cause).toBe(boom);
    expect(bodyReason).toBe(siblingReason);
  });

  it('does not turn an unawaited failed child into an unhandled rejection', async () => {
    await expect(
      scope((group) => {
        group.spawn(() => Promise.reject(new Error('nobody awaits me')));
      }),
    ).rejects.toThrow('nobody awaits me');
  });

  it('reports one failure when the body awaits the handle of the child that failed', async () => {
    const boom = new Error('boom');
    const error = await scope(async (group) => {
      await group.spawn(() => Promise.reject(boom));
    }).catch((e: unknown) => e);
    expect(error).toBe(boom);
  });

  it('rejects with an AggregateError of every genuine failure when several happen', async () => {
    const a = new Error('a');
    const b = new Error('b, during cleanup');
    const error = await scope((group) => {
      group.spawn(() => Promise.reject(a));
      group.spawn(async (signal) => {
        await untilAborted(signal).catch(() => undefined);
        throw b;
      });
      group.spawn((signal) => untilAborted(signal));
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([a, b]);
  });

  it('aborts the children when the body throws', async () => {
    const boom = new Error('body');
    let childReason: unknown;
    await expect(
      scope((group) => {
        group.spawn(async (signal) => {
          await untilAborted(signal).catch((reason: unknown) => (childReason = reason));
        });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((childReason as Error).cause).toBe(boom);
  });

  it('lets children spawn more children while the group is open', async () => {
    const done: number[] = [];
    await scope((group) => {
      group.spawn(async () => {
        await sleep(1);
        group.spawn(async () => {
          await sleep(1);
          done.push(2);
        });
        done.push(1);
      });
    });
    expect(done).toEqual([1, 2]);
  });

  it('rejects a spawn into a group that is shutting down, without calling the task', async () => {
    const late = vi.fn();
    let handle: TaskHandle<unknown> | undefined;
    await scope(async (group) => {
      group.spawn(() => Promise.reject(new Error('x')));
      await untilAborted(group.signal).catch(() => undefined);
      handle = group.spawn(late);
    }).catch(() => undefined);
    await expect(handle).rejects.toBeInstanceOf(ScopeClosedError);
    expect(late).not.toHaveBeenCalled();
  });

  it('rejects a spawn into a group that has closed', async () => {
    let saved: TaskGroup | undefined;
    await scope((group) => {
      saved = group;
    });
    await expect(saved!.spawn(async () => 1)).rejects.toThrow(/has closed/);
  });

  it('times out: aborts everything with a TimeoutError and rejects with it', async () => {
    vi.useFakeTimers();
    const outcome = scope(
      async (group) => {
        group.spawn((signal) => untilAborted(signal));
        await untilAborted(group.signal);
      },
      { timeout: 1_000 },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('honours an absolute deadline, the earlier of deadline and timeout winning', async () => {
    vi.useFakeTimers({ now: 10_000 });
    const outcome = scope((group) => untilAborted(group.signal), { deadline: 10_500, timeout: 5_000 }).catch(
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(499);
    let settled = false;
    void outcome.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });

  it('makes a nested scope inherit the earliest deadline and its parent cancellation', async () => {
    vi.useFakeTimers({ now: 0 });
    let innerDeadline: number | undefined;
    let innerReason: unknown;
    const outcome = scope(
      (outer) =>
        scope(
          async (inner) => {
            innerDeadline = inner.deadline;
            await untilAborted(inner.signal).catch((reason: unknown) => (innerReason = reason));
          },
          { signal: outer.signal, timeout: 60_000 },
        ),
      { timeout: 100 },
    ).catch((e: unknown) => e);
    expect(innerDeadline).toBe(100);
    await vi.advanceTimersByTimeAsync(100);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(innerReason).toBe(error);
  });

  it('rejects with the caller reason when its signal aborts, and removes its listener', async () => {
    const controller = new AbortController();
    const outcome = scope(
      async (group) => {
        group.spawn((signal) => untilAborted(signal));
        await untilAborted(group.signal);
      },
      { signal: controller.signal },
    );
    controller.abort('caller gone');
    await expect(outcome).rejects.toBe('caller gone');
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('does not run the body when the caller signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort('early');
    const body = vi.fn();
    await expect(scope(body, { signal: controller.signal })).rejects.toBe('early');
    expect(body).not.toHaveBeenCalled();
  });

  it('settles after the grace period when a child ignores its signal, and reports it', async () => {
    vi.useFakeTimers();
    const stuck = deferred<never>();
    const reports: unknown[] = [];
    const outcome = scope(
      (group) => {
        group.spawn(() => stuck.promise);
        group.spawn(() => Promise.reject(new Error('boom')));
      },
      { graceMs: 30, onStraggler: (report) => reports.push(report) },
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(30);
    expect(await outcome).toEqual(new Error('boom'));
    expect(reports).toMatchObject([{ operation: 'scope', pending: 1, graceMs: 30 }]);
    stuck.reject(new Error('late'));
  });

  it('rejects join() on its own group instead of waiting for itself forever', async () => {
    await scope(async (group) => {
      await expect(group.join()).rejects.toThrow(/joined by the scope itself/);
    });
  });

  it('validates its arguments', () => {
    expect(() => scope('x' as any)).toThrow(/body must be a function/);
    expect(() => scope(() => 1, { timeout: -1 })).toThrow(/timeout/);
    expect(() => scope(() => 1, { deadline: 'soon' as any })).toThrow(/deadline must be a timestamp/);
    expect(() => new TaskGroup({ graceMs: -1 })).toThrow(/graceMs/);
    expect(() => new TaskGroup().spawn(5 as any)).toThrow(/task must be a function/);
  });
});

describe('TaskGroup', () => {
  it('waits for its children at the end of an `await using` block', async () => {
    const done: string[] = [];
    {
      await using group = new TaskGroup();
      group.spawn(async () => {
        await sleep(5);
        done.push('child');
      });
    }
    done.push('after block');
    expect(done).toEqual(['child', 'after block']);
  });

  it('throws the child failure when the `await using` block ends', async () => {
    const boom = new Error('boom');
    const run = async () => {
      await using group = new TaskGroup();
      group.spawn(() => Promise.reject(boom));
    };
    await expect(run()).rejects.toBe(boom);
  });

  it('cancel() aborts the children and join() resolves: cancelling is not failing', async () => {
    const group = new TaskGroup();
    let reason: unknown;
    group.spawn(async (signal) => {
      await untilAborted(signal).catch((r: unknown) => (reason = r));
    });
    group.cancel();
    await expect(group.join()).resolves.toBeUndefined();
    expect(reason).toBeInstanceOf(CancelledError);
    expect(group.pending).toBe(0);
  });

  it('scope resolves with the body value when the body cancels its own group', async () => {
    await expect(
      scope((group) => {
        group.spawn((signal) => untilAborted(signal));
        group.cancel();
        return 'stopped early';
      }),
    ).resolves.toBe('stopped early');
  });

  it('joins at once when it has no children', async () => {
    await expect(new TaskGroup().join()).resolves.toBeUndefined();
  });
});

describe('scope, at the edges', () => {
  it('counts only spawned children in group.pending, never the body', async () => {
    const seen: number[] = [];
    await scope(async (group) => {
      seen.push(group.pending);
      const child = deferred();
      group.spawn(() => child.promise);
      seen.push(group.pending);
      child.resolve();
      await sleep(0);
      seen.push(group.pending);
    });
    expect(seen).toEqual([0, 1, 0]);
  });

  it('waits for a deadline further away than 2^31-1 ms instead of timing out at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const month = 30 * 24 * 3_600_000;
    let settled = false;
    const outcome = scope((group) => untilAborted(group.signal), { deadline: month }).catch((e: unknown) => e);
    void outcome.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(month - 1_001);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms no timer at all for an infinite deadline', async () => {
    vi.useFakeTimers({ now: 0 });
    const group = new TaskGroup({ deadline: Infinity });
    expect(vi.getTimerCount()).toBe(0);
    await group.join();
  });
});

describe('cancelling one child of a group', () => {
  it('lets the other children go on when one child rejects with its own AbortError', async () => {
    const finished: string[] = [];
    const value = await scope(async (group) => {
      const one = new AbortController();
      const link = linkSignal(one, group.signal);
      const cancelled = group.spawn(() => untilAborted(one.signal).finally(() => link.unlink()));
      group.spawn(async () => {
        await sleep(1);
        finished.push('sibling');
      });
      one.abort();
      await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
      return 'group carried on';
    });
    expect(value).toBe('group carried on');
    expect(finished).toEqual(['sibling']);
  });
});
