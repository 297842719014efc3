/**
 * Scoped defaults for `new Board()`: a host that runs someone else's code which builds a board (the
 * `skein` command running a workflow's `createBoard`) decides where that board keeps its state
 * without the code having to pass it on. The defaults hold only inside the call they are given to
 * (through AsyncLocalStorage, so its awaits included) and only until that call settles: a board
 * built anywhere else, or later, is not affected. Options passed to `new Board()` win.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { assertFunction, assertOptions } from '../core/validate.js';
import type { BoardOptions } from './board.js';

interface Scope {
  readonly defaults: BoardOptions;
  open: boolean;
}

const scopes = new AsyncLocalStorage<Scope>();

/**
 * Calls `fn` and answers what it returns; every `new Board()` constructed while it runs (in its
 * synchronous part and, when it returns a promise, until that promise settles) takes `defaults` for
 * the options it is not given. Boards constructed outside the call, or by callbacks that run after
 * it settled, are not affected.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Board, MemoryStore, withBoardDefaults } from 'skein/board';
 * const store = new MemoryStore(); // a SqliteStore or PostgresStore in real life
 * const board = withBoardDefaults({ store }, () => new Board()); // code that knows nothing of the store
 * assert.equal(board.store, store);
 * await board.shutdown();
 * ```
 */
export function withBoardDefaults<T>(defaults: BoardOptions, fn: () => T): T {
  assertOptions(defaults, 'defaults');
  assertFunction(fn, 'fn');
  const scope: Scope = { defaults: { ...defaults }, open: true };
  let result: T;
  try {
    result = scopes.run(scope, fn);
  } catch (error) {
    scope.open = false;
    throw error;
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    const close = (): void => {
      scope.open = false;
    };
    (result as PromiseLike<unknown>).then(close, close);
  } else {
    scope.open = false;
  }
  return result;
}

/** `options` with the open scope's defaults filled in where `options` leaves them undefined. */
export function applyBoardDefaults(options: BoardOptions | undefined): BoardOptions | undefined {
  const scope = scopes.getStore();
  if (scope === undefined || !scope.open) return options;
  const merged: Record<string, unknown> = { ...scope.defaults };
  for (const [key, value] of Object.entries(options ?? {})) if (value !== undefined) merged[key] = value;
  return merged;
}
