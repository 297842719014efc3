/**
 * Group commit for SQL stores: `completeMany` ends several claimed runs in one transaction (one commit),
 * each item applied all or nothing by itself. Items rarely fail inside the transaction (their writes
 * are checked before it), so the batch first runs without savepoints (item by item, or all items in a
 * few set-based statements when the store can); when an item throws, the whole transaction is rolled
 * back and run again with a savepoint per item, undoing that item alone.
 *
 * The algorithm is written once, as a generator that yields whatever its steps answer; {@link drive}
 * resumes it at once with a plain value and after a promise settles otherwise. A synchronous store
 * (SQLite) thus gets a synchronous answer without a microtask per item, and an asynchronous one
 * (PostgreSQL) a promise.
 */
import type { Awaitable, CompletionItem, UnitResult } from './contract.js';

/**
 * How one store runs a batch of completions: `T` is what its transaction hands to each step (a client,
 * or nothing for a store with one connection).
 *
 * @example
 * ```ts no-run
 * const steps: BatchSteps<void> = {
 *   check: (item) => checkCompletion(item.completion),
 *   transaction: (work) => db.transaction(() => work()),
 *   complete: (_tx, item) => completeOne(item.claim, item.completion, now),
 *   savepoint: () => db.exec('SAVEPOINT item'),
 *   release: () => db.exec('RELEASE item'),
 *   rollbackTo: () => db.exec('ROLLBACK TO item; RELEASE item'),
 * };
 * ```
 */
export interface BatchSteps<T> {
  /** Throws what would make the item fail in process, before any transaction; the item is then rejected alone. */
  check(item: CompletionItem): void;
  /** Runs `work` in one transaction: commits what it answers, rolls back when it throws. */
  transaction<R>(work: (tx: T) => Awaitable<R>): Awaitable<R>;
  /** One completion inside the transaction. */
  complete(tx: T, item: CompletionItem): Awaitable<UnitResult>;
  /**
   * Optional: every item at once inside the transaction, answering their results in order (the
   * same as `complete` on each in turn, in fewer statements). Used for a batch of two or more.
   */
  completeAll?(tx: T, items: readonly CompletionItem[]): Awaitable<readonly UnitResult[]>;
  savepoint(tx: T): Awaitable<unknown>;
  release(tx: T): Awaitable<unknown>;
  /** Undoes the item since its savepoint (and ends the savepoint, if the database needs that). */
  rollbackTo(tx: T): Awaitable<unknown>;
  /** Errors that must abort the whole batch rather than reject one item (a deadlock the transaction runs again). */
  fatal?(error: unknown): boolean;
}

/**
 * Ends `items` in one transaction, each guarded by its own claim: answers each item's result in order,
 * synchronously when every step of `steps` does.
 *
 * @example
 * ```ts no-run
 * completeMany(items: readonly CompletionItem[], now: number) {
 *   return completeBatch(items, this.#batchSteps(now));
 * }
 * ```
 */
export function completeBatch<T>(items: readonly CompletionItem[], steps: BatchSteps<T>): Awaitable<PromiseSettledResult<UnitResult>[]> {
  return drive(batch(items, steps));
}

/** Rolls back a batch whose item failed, to run it again with a savepoint per item. */
class ItemFailed extends Error {}

type Step = Generator<unknown, void, unknown>;

function* batch<T>(items: readonly CompletionItem[], steps: BatchSteps<T>): Generator<unknown, PromiseSettledResult<UnitResult>[], unknown> {
  const settled = new Array<PromiseSettledResult<UnitResult>>(items.length);
  const ready: number[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      steps.check(items[i]!);
      ready.push(i);
    } catch (error) {
      settled[i] = { status: 'rejected', reason: error };
    }
  }
  if (ready.length === 0) return settled;
  const fatal = (error: unknown): boolean => steps.fatal?.(error) === true;
  if (steps.completeAll !== undefined && ready.length > 1) {
    const all = ready.map((i) => items[i]!);
    try {
      const results = (yield steps.transaction((tx) => steps.completeAll!(tx, all))) as readonly UnitResult[];
      for (let k = 0; k < ready.length; k++) settled[ready[k]!] = { status: 'fulfilled', value: results[k]! };
      return settled;
    } catch (error) {
      if (fatal(error)) throw error;
    }
    return yield* oneByOne(ready, items, steps, settled, fatal);
  }
  let failed: unknown;
  try {
    yield steps.transaction((tx) =>
      drive(
        (function* (): Step {
          for (const i of ready) {
            try {
              settled[i] = { status: 'fulfilled', value: (yield steps.complete(tx, items[i]!)) as UnitResult };
            } catch (error) {
              if (fatal(error)) throw error;
              failed = error;
              throw new ItemFailed();
            }
          }
        })(),
      ),
    );
    return settled;
  } catch (error) {
    if (!(error instanceof ItemFailed)) throw error;
  }
  if (ready.length === 1) {
    settled[ready[0]!] = { status: 'rejected', reason: failed };
    return settled;
  }
  return yield* oneByOne(ready, items, steps, settled, fatal);
}

/** The batch again, a savepoint per item: an item that throws is undone alone. */
function* oneByOne<T>(
  ready: readonly number[],
  items: readonly CompletionItem[],
  steps: BatchSteps<T>,
  settled: PromiseSettledResult<UnitResult>[],
  fatal: (error: unknown) => boolean,
): Generator<unknown, PromiseSettledResult<UnitResult>[], unknown> {
  yield steps.transaction((tx) =>
    drive(
      (function* (): Step {
        for (const i of ready) {
          yield steps.savepoint(tx);
          try {
            settled[i] = { status: 'fulfilled', value: (yield steps.complete(tx, items[i]!)) as UnitResult };
            yield steps.release(tx);
          } catch (error) {
            if (fatal(error)) throw error;
            yield steps.rollbackTo(tx);
            settled[i] = { status: 'rejected', reason: error };
          }
        }
      })(),
    ),
  );
  return settled;
}

/**
 * Runs `steps` to its end, handing each yielded value back to it: synchronously while the values are
 * plain, after the promise settles when one is a promise (a rejection is thrown into the generator).
 */
function drive<R>(steps: Generator<unknown, R, unknown>): Awaitable<R> {
  return resume(steps, steps.next());
}

function resume<R>(steps: Generator<unknown, R, unknown>, next: IteratorResult<unknown, R>): Awaitable<R> {
  while (next.done !== true) {
    const value = next.value;
    if (isThenable(value)) {
      // A native promise passes through `Promise.resolve` as it is (no extra turn).
      return Promise.resolve(value).then(
        (settledValue: unknown) => resume(steps, steps.next(settledValue)),
        (error: unknown) => resume(steps, steps.throw(error)),
      );
    }
    next = steps.next(value);
  }
  return next.value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
