import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { TimeoutError } from 'skein';
import { Board, MemoryStore, all, any, artifactCount, artifactExists, artifactType, idle, predicate, workflowDone, type BoardEvent } from 'skein/board';
import { gate } from '../../test/helpers.js';

const Idea = artifactType('Idea', z.string());
const Pizza = artifactType('Pizza', z.string());


function chef(board: Board, before?: (idea: string, signal: AbortSignal) => Promise<void>): void {
  board
    .agent('chef')
    .consumes(Idea)
    .publishes(Pizza)
    .maxConcurrency(8)
    .handle(async ([idea], ctx) => {
      await before?.(idea.payload, ctx.signal);
      return idea.payload;
    });
}

describe('board.runUntil', () => {
  it('resolves when an artifact of a type appears, while other work goes on', async () => {
    await using board = new Board();
    const slow = gate();
    chef(board, (idea, signal) => (idea === 'slow' ? slow.wait(signal) : Promise.resolve()));
    await board.publishMany(Idea, ['slow', 'fast']);
    await board.runUntil(artifactExists(Pizza, { where: (pizza) => pizza.payload === 'fast' }), { timeoutMs: 10_000 });
    expect((await board.store.list({ type: Pizza })).map((p) => p.payload)).toEqual(['fast']);
    slow.open();
    await board.runUntilIdle();
  });

  it('counts N artifacts of a type, in one workflow when asked', async () => {
    await using board = new Board();
    const third = gate();
    chef(board, (idea, signal) => (idea === 'c' ? third.wait(signal) : Promise.resolve()));
    await board.publishMany(Idea, ['a', 'b', 'c'], { correlationId: 'wf' });
    await board.runUntil(artifactCount(Pizza, 2, { correlationId: 'wf' }), { timeoutMs: 10_000 });
    expect(await board.store.list({ type: Pizza })).toHaveLength(2);
    await expect(board.runUntil(artifactCount(Pizza, 2, { correlationId: 'other' }), { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    third.open();
    await board.runUntil(artifactCount(Pizza, 3), { timeoutMs: 10_000 });
  });

  it('waits for a workflow to be done, and for no work left', async () => {
    await using board = new Board();
    const held = gate();
    chef(board, (idea, signal) => (idea === 'held' ? held.wait(signal) : Promise.resolve()));
    await board.publish(Idea, 'quick', { correlationId: 'one' });
    await board.publish(Idea, 'held', { correlationId: 'two' });
    await board.runUntil(workflowDone('one'), { timeoutMs: 10_000 });
    await expect(board.runUntil(idle(), { timeoutMs: 20 })).rejects.toThrow(/no work left: not so after 20 ms/);
    const idleNow = board.runUntil(idle(), { timeoutMs: 10_000 });
    held.open();
    await idleNow;
    expect(board.stats().agents.chef?.done).toBe(2);
  });

  it('combines conditions with any and all, and takes a predicate over the store', async () => {
    await using board = new Board();
    chef(board);
    const Never = artifactType('Never', z.string());
    await board.publishMany(Idea, ['a', 'b']);
    await board.runUntil(any(artifactExists(Never), artifactCount(Pizza, 2)), { timeoutMs: 10_000 });
    await expect(board.runUntil(all(artifactExists(Never), artifactCount(Pizza, 2)), { timeoutMs: 20 })).rejects.toThrow(/all of \(an Never; at least 2 Pizza\)/);
    await board.publish(Idea, 'c');
    await board.runUntil(async (view) => (await view.store.list({ type: Pizza })).length === 3, { timeoutMs: 10_000 });
    const named = predicate(() => false, 'the moon is blue');
    await expect(board.runUntil(named, { timeoutMs: 10 })).rejects.toThrow(/the moon is blue/);
  });

  it('is event-driven: with the clock frozen, it still resolves as work happens', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    chef(board);
    const waiting = board.runUntil(artifactCount(Pizza, 3));
    await board.publishMany(Idea, ['a', 'b', 'c']);
    await waiting; // no timer was advanced: nothing polled
  });

  it('asks the condition again only after events that may change its answer', async () => {
    await using board = new Board();
    chef(board);
    let asked = 0;
    const condition = { description: 'counted', holds: () => ++asked > 100, wakesOn: (event: BoardEvent) => event.kind === 'published' && event.type === 'Pizza' };
    const waiting = board.runUntil(condition, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    await board.publishMany(Idea, ['a', 'b', 'c']);
    await board.runUntilIdle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toBe(4); // once at first, once per Pizza: never for the Idea publishes or the runs' events
    await board.shutdown();
    expect(await waiting).toMatchObject({ name: 'BoardClosedError' });
  });

  it('rejects with a TimeoutError, the signal\'s reason, a BoardClosedError, or what the condition threw, leaving nothing behind', async () => {
    const board = new Board();
    await expect(board.runUntil(artifactExists(Pizza), { timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborted = board.runUntil(artifactExists(Pizza), { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    await expect(board.runUntil(artifactExists(Pizza), { signal: controller.signal })).rejects.toThrow('caller gave up');
    await expect(board.runUntil(() => { throw new RangeError('bad predicate'); })).rejects.toThrow('bad predicate');
    const pending = board.runUntil(artifactExists(Pizza));
    await board.shutdown();
    await expect(pending).rejects.toMatchObject({ name: 'BoardClosedError' });
    await expect(board.runUntil(idle())).rejects.toMatchObject({ name: 'BoardClosedError' });
  });

  it('removes its event listener and abort listener when it settles', async () => {
    await using board = new Board();
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    await board.runUntil(idle(), { signal: controller.signal, timeoutMs: 1_000 });
    expect(added).toHaveBeenCalledTimes(1);
    expect(removed).toHaveBeenCalledTimes(1);
    // No subscriber left: publishing builds no events (an events() stream made now sees only its own).
    const events = board.events();
    await board.publish(Idea, 'x');
    await board.runUntilIdle();
    await events.return?.();
  });

  it('rejects bad conditions and unknown options with a TypeError', () => {
    const board = new Board();
    expect(() => board.runUntil({} as never)).toThrow(TypeError);
    expect(() => board.runUntil(idle(), { timeout: 5 } as never)).toThrow(/its options are timeoutMs, signal/);
    expect(() => artifactCount(Pizza, 0)).toThrow(RangeError);
    expect(() => artifactExists(Pizza, { correlation: 'x' } as never)).toThrow(/its options are correlationId, where/);
    expect(() => any()).toThrow(RangeError);
    void board.shutdown();
  });

  it('sharing the store, hears of other boards\' work through the store\'s poll', async () => {
    const store = new MemoryStore();
    await using front = new Board({ store, shared: { pollMs: 20 }, work: false });
    await using worker = new Board({ store, shared: { pollMs: 20 } });
    for (const board of [front, worker]) chef(board);
    await front.publishMany(Idea, ['a', 'b'], { correlationId: 'order' });
    await front.runUntil(all(artifactCount(Pizza, 2, { correlationId: 'order' }), workflowDone('order'), idle()), { timeoutMs: 10_000 });
    expect(front.stats().agents.chef?.done).toBe(0);
    expect(worker.stats().agents.chef?.done).toBe(2);
  });
});
