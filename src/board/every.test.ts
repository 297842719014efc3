import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, type BoardEvent } from 'skein/board';

const Tick = artifactType('Tick', z.number());

afterEach(() => {
  vi.useRealTimers();
});

describe('background loops', () => {
  it('runs a task every interval, and what it publishes flows like any artifact', async () => {
    vi.useFakeTimers();
    await using board = new Board();
    const seen: number[] = [];
    board.agent('listener').consumes(Tick).handle(([tick]) => void seen.push(tick.payload));
    let n = 0;
    board.every(100, () => board.publish(Tick, ++n));
    await board.runUntilIdle(); // a loop is not work: idle at once
    await vi.advanceTimersByTimeAsync(350);
    await board.runUntilIdle();
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops with stop() or at shutdown, aborting a run in progress and leaving no timer', async () => {
    vi.useFakeTimers();
    const board = new Board();
    let runs = 0;
    const loop = board.every(10, () => void runs++, { immediate: true });
    await vi.advanceTimersByTimeAsync(25);
    expect(runs).toBe(3);
    loop.stop();
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toBe(3);

    let aborted = false;
    board.every(10, (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve()))));
    await vi.advanceTimersByTimeAsync(10);
    await board.shutdown();
    expect(aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a failing run as an error event and goes on', async () => {
    vi.useFakeTimers();
    const board = new Board();
    const events = board.events();
    let runs = 0;
    board.every(10, () => {
      runs++;
      throw new Error('flaky');
    });
    await vi.advanceTimersByTimeAsync(30);
    expect(runs).toBe(3);
    await board.shutdown();
    const errors: BoardEvent[] = [];
    for await (const event of events) if (event.kind === 'error') errors.push(event);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({ operation: 'background loop, run 1', error: { message: 'flaky' } });
  });

  it('validates its arguments', async () => {
    await using board = new Board();
    expect(() => board.every(-1, () => {})).toThrow(RangeError);
    expect(() => board.every(10, 'x' as never)).toThrow(TypeError);
  });
});
