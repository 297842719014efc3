import { describe, expect, it } from 'vitest';
import { Board } from './board.js';
import { withBoardDefaults } from './board-defaults.js';
import { MemoryStore } from './stores/memory-store.js';

describe('withBoardDefaults', () => {
  it('gives a board built inside the call the default store, in the synchronous part and after awaits', async () => {
    const store = new MemoryStore();
    const sync = withBoardDefaults({ store }, () => new Board());
    const later = await withBoardDefaults({ store }, async () => {
      await Promise.resolve();
      await new Promise((resolve) => setTimeout(resolve, 1));
      return new Board();
    });
    expect(sync.store).toBe(store);
    expect(later.store).toBe(store);
    await sync.shutdown();
    await later.shutdown();
  });

  it('options given to new Board() win over the defaults', async () => {
    const store = new MemoryStore();
    const own = new MemoryStore();
    const board = withBoardDefaults({ store }, () => new Board({ store: own }));
    expect(board.store).toBe(own);
    await board.shutdown();
  });

  it('affects no board built outside the call, nor one built by a callback that runs after the call settled', async () => {
    const store = new MemoryStore();
    let late: Promise<Board> | undefined;
    await withBoardDefaults({ store }, async () => {
      // A timer armed inside the call fires after it settled: its board gets no defaults.
      late = new Promise((resolve) => setTimeout(() => resolve(new Board()), 20));
      await Promise.resolve();
    });
    const outside = new Board();
    expect(outside.store).not.toBe(store);
    const board = await late!;
    expect(board.store).not.toBe(store);
    await outside.shutdown();
    await board.shutdown();
  });

  it('ends the scope when the function throws or its promise rejects, and passes the error on', async () => {
    const store = new MemoryStore();
    let escaped: (() => Board) | undefined;
    expect(() =>
      withBoardDefaults({ store }, () => {
        escaped = () => new Board();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(withBoardDefaults({ store }, () => Promise.reject(new Error('later')))).rejects.toThrow('later');
    const board = escaped!();
    expect(board.store).not.toBe(store);
    await board.shutdown();
  });

  it('checks its arguments, and the default store like a given one', () => {
    expect(() => withBoardDefaults(null as never, () => 1)).toThrow(TypeError);
    expect(() => withBoardDefaults({}, 'x' as never)).toThrow(TypeError);
    expect(() => withBoardDefaults({ store: {} as never }, () => new Board())).toThrow(/store must implement BoardStore/);
  });
});
