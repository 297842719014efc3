/**
 * A double-ended queue on a ring buffer: `push`, `pop`, `shift` and `unshift` are O(1) (amortised over
 * the doublings of its backing array), so no queue in skein ever pays for `Array.prototype.shift`.
 *
 * Invariants: the capacity is a power of two (so wrapping is a mask, not a division); the live items
 * are the `length` slots starting at `head`, wrapping around; every other slot holds `undefined`, so a
 * removed item is never kept alive by the buffer.
 */

const MIN_CAPACITY = 16;

/**
 * A first-in first-out queue that is also a stack at both ends. Internal to skein's flow layer.
 *
 * @example
 * ```ts
 * import { Deque } from './deque.js';
 * const queue = new Deque<number>();
 * queue.push(1);
 * queue.push(2);
 * queue.unshift(0);
 * queue.shift(); // 0
 * queue.pop(); // 2
 * queue.length; // 1
 * ```
 */
export class Deque<T> implements Iterable<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  constructor() {
    this.#items = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
  }

  /** How many items the deque holds. */
  get length(): number {
    return this.#length;
  }

  /** Adds `value` at the back. */
  push(value: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = value;
    this.#length++;
  }

  /** Adds `value` at the front. */
  unshift(value: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    this.#items[this.#head] = value;
    this.#length++;
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const head = this.#head;
    const value = this.#items[head];
    this.#items[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#length--;
    return value;
  }

  /** Removes and returns the back item, or `undefined` when empty. */
  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    this.#length--;
    const index = (this.#head + this.#length) & this.#mask;
    const value = this.#items[index];
    this.#items[index] = undefined;
    return value;
  }

  /** The front item without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The back item without removing it, or `undefined` when empty. */
  peekBack(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[(this.#head + this.#length - 1) & this.#mask];
  }

  /** The item `index` places from the front (0 is the front), or `undefined` when out of range. */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /**
   * Removes every item for which `predicate` returns true, keeping the order of the others, in one
   * O(length) pass. Returns how many were removed. Queues that let waiters leave from the middle mark
   * them and call this once the marked ones outnumber the live ones, which keeps leaving O(1) amortised.
   */
  removeIf(predicate: (value: T) => boolean): number {
    const items = this.#items;
    const mask = this.#mask;
    const head = this.#head;
    const length = this.#length;
    let kept = 0;
    for (let i = 0; i < length; i++) {
      const value = items[(head + i) & mask] as T;
      if (!predicate(value)) items[(head + kept++) & mask] = value;
    }
    for (let i = kept; i < length; i++) items[(head + i) & mask] = undefined;
    this.#length = kept;
    return length - kept;
  }

  /** Removes every item and gives the memory of a grown buffer back. */
  clear(): void {
    this.#items = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
    this.#head = 0;
    this.#length = 0;
  }

  /** The items from front to back (a snapshot is not taken: do not change the deque while iterating). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const old = this.#items;
    const capacity = old.length;
    const items = new Array<T | undefined>(capacity * 2).fill(undefined);
    for (let i = 0; i < this.#length; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = capacity * 2 - 1;
    this.#head = 0;
  }
}
