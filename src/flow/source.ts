/**
 * What `map` and `mapIterable` accept as input: an array, any iterable or any async iterable.
 */
import { describe } from '../core/validate.js';

/** Items to map: an array, any iterable (a generator, a Set) or any async iterable (a stream, a channel). */
export type Source<T> = Iterable<T> | AsyncIterable<T>;

/** A mapper: called with the item, its index in the input and the signal it must honour. */
export type Mapper<T, R> = (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;

export function assertSource(value: unknown, name: string): asserts value is Source<unknown> {
  if (
    value === null ||
    value === undefined ||
    (typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function' &&
      typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function')
  ) {
    throw new TypeError(`${name} must be an iterable or an async iterable, got ${describe(value)}`);
  }
}

/** The source's iterator, preferring its async one, and whether that is async. */
export function openSource<T>(source: Source<T>): { iterator: Iterator<T> | AsyncIterator<T>; async: boolean } {
  const asyncOpen = (source as Partial<AsyncIterable<T>>)[Symbol.asyncIterator];
  if (typeof asyncOpen === 'function') return { iterator: asyncOpen.call(source), async: true };
  return { iterator: (source as Iterable<T>)[Symbol.iterator](), async: false };
}

/**
 * Checks what an iterator's `next()` gave (awaited, for an async one): the iterator protocol asks
 * for an object, and reading `done` off `null` would throw somewhere nobody catches it.
 */
export function checkStep<T>(step: unknown): IteratorResult<T> {
  if (step === null || (typeof step !== 'object' && typeof step !== 'function')) {
    throw new TypeError(`the source's iterator returned ${describe(step)} from next(); it must return an object { done, value }`);
  }
  return step as IteratorResult<T>;
}

/**
 * Calls the source iterator's `return()` (if it has one) so that a generator runs its `finally`
 * blocks. A `return()` that throws is ignored: whatever stopped the iteration is what the caller
 * needs to hear about, and a failing cleanup adds nothing to it.
 */
export async function closeQuietly(iterator: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // See above: the reason the iteration stopped wins.
  }
}
