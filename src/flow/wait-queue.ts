/**
 * A FIFO of waiters that can leave from anywhere in O(1) amortised time. A waiter that aborts or
 * times out is marked `done` and forgotten at once (it no longer counts in `size` and is never
 * served); the marked entries are dropped when they reach the front, or all together once they
 * outnumber the live ones, so the memory they hold stays within a constant factor of the live waiters.
 */
import { AbortFanout } from '../core/signal.js';
import { Deque } from './deque.js';

/** What every queued waiter carries: set `done` when it is served or leaves. */
export interface Waiter {
  done: boolean;
}

/** A waiter that can give up: `pushAbortable` fills in `cleanup`, which the server calls when it serves it. */
export interface AbortableWaiter extends Waiter {
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

/** Below this many marked entries a compaction is not worth its pass over the queue. */
const COMPACT_MIN = 32;

const isDone = (waiter: Waiter): boolean => waiter.done;

/**
 * The waiters of one queue (a semaphore's acquirers, a channel's senders): FIFO, with O(1) leaving.
 *
 * @example
 * ```ts
 * import { WaitQueue } from './wait-queue.js';
 * const queue = new WaitQueue<{ done: boolean; id: number }>();
 * const first = { done: false, id: 1 };
 * queue.push(first);
 * queue.push({ done: false, id: 2 });
 * first.done = true;
 * queue.leave(first); // first aborted: it leaves at once
 * queue.size; // 1
 * queue.shift()?.id; // 2
 * ```
 */
export class WaitQueue<W extends Waiter> {
  readonly #entries = new Deque<W>();
  /** The owner's fan-out: one listener per signal however many waits share it. */
  #fanout: AbortFanout | undefined;
  #size = 0;

  /** `fanout`: the owner's, when several queues of one primitive share their signals' listeners. */
  constructor(fanout?: AbortFanout) {
    this.#fanout = fanout;
  }
  #marked = 0;

  /** How many waiters are still waiting. */
  get size(): number {
    return this.#size;
  }

  push(waiter: W): void {
    this.#entries.push(waiter);
    this.#size++;
  }

  /** The first waiter still waiting, without removing it. */
  peek(): W | undefined {
    this.#dropMarkedFront();
    return this.#entries.peek();
  }

  /** Removes and returns the first waiter still waiting. The caller sets its `done`. */
  shift(): W | undefined {
    this.#dropMarkedFront();
    const waiter = this.#entries.shift();
    if (waiter !== undefined) this.#size--;
    return waiter;
  }

  /**
   * Forgets `waiter`, which is in this queue and whose `done` the caller has just set (it aborted,
   * timed out or was rejected). O(1) amortised.
   */
  /**
   * Queues `waiter`; if `signal` aborts before it is served, it is marked done, leaves the queue at
   * once and rejects with the signal's reason, and then `afterLeaving(wasFront)` runs (a queue whose
   * front changed may need to reschedule). `waiter.cleanup` removes the listener: call it on serving.
   */
  pushAbortable(
    waiter: W & AbortableWaiter,
    signal: AbortSignal | undefined,
    afterLeaving?: (wasFront: boolean) => void,
  ): void {
    this.push(waiter);
    if (signal === undefined) return;
    waiter.cleanup = (this.#fanout ??= new AbortFanout()).add(signal, () => {
      if (waiter.done) return;
      waiter.done = true;
      const wasFront = afterLeaving !== undefined && this.peek() === waiter;
      this.leave(waiter);
      waiter.reject(signal.reason);
      afterLeaving?.(wasFront);
    });
  }

  leave(waiter: W): void {
    this.#size--;
    if (this.#entries.peek() === waiter) {
      this.#entries.shift();
      this.#dropMarkedFront();
      return;
    }
    this.#marked++;
    if (this.#marked >= COMPACT_MIN && this.#marked > this.#size) {
      this.#entries.removeIf(isDone);
      this.#marked = 0;
    }
  }

  /** Removes and returns every waiter still waiting, in order, leaving the queue empty. */
  drain(): W[] {
    const waiting: W[] = [];
    for (const waiter of this.#entries) if (!waiter.done) waiting.push(waiter);
    this.#entries.clear();
    this.#size = 0;
    this.#marked = 0;
    return waiting;
  }

  #dropMarkedFront(): void {
    const entries = this.#entries;
    while (this.#marked > 0) {
      const front = entries.peek();
      if (front === undefined || !front.done) return;
      entries.shift();
      this.#marked--;
    }
  }
}

/** A waiter with a priority: higher is served first, equal priorities first-in first-out. */
export interface RankedWaiter extends Waiter {
  readonly priority: number;
}

interface PriorityLevel<W extends Waiter> {
  readonly priority: number;
  readonly queue: WaitQueue<W>;
}

/**
 * Waiters in priority order (higher first), first-in first-out within a priority, with O(1)
 * leaving. It is one {@link WaitQueue} per priority in use: every operation costs O(1) in the
 * number of waiters (adding a new priority costs O(P) in the number of priorities in use), and while
 * only the default priority 0 is in use it is a plain `WaitQueue` behind one check.
 *
 * @example
 * ```ts
 * import { PriorityWaitQueue } from './wait-queue.js';
 * const queue = new PriorityWaitQueue<{ done: boolean; priority: number; id: string }>();
 * queue.push({ done: false, priority: 0, id: 'a' });
 * queue.push({ done: false, priority: 5, id: 'b' });
 * queue.push({ done: false, priority: 0, id: 'c' });
 * queue.shift()?.id; // 'b'
 * queue.shift()?.id; // 'a'
 * ```
 */
export class PriorityWaitQueue<W extends RankedWaiter> {
  /** Priority 0, the level nearly every waiter is on. */
  readonly #base: WaitQueue<W>;
  readonly #fanout: AbortFanout | undefined;
  /** Every level in use, highest priority first (the base included); undefined while only 0 is used. */
  #levels: PriorityLevel<W>[] | undefined;
  /** The levels other than the base, by priority. */
  readonly #byPriority = new Map<number, PriorityLevel<W>>();
  #size = 0;

  constructor(fanout?: AbortFanout) {
    this.#fanout = fanout;
    this.#base = new WaitQueue<W>(fanout);
  }

  /** How many waiters are still waiting. */
  get size(): number {
    return this.#size;
  }

  push(waiter: W): void {
    this.#size++;
    if (waiter.priority === 0) this.#base.push(waiter);
    else this.#levelFor(waiter.priority).queue.push(waiter);
  }

  /** The first waiter of the highest priority, without removing it. */
  peek(): W | undefined {
    const levels = this.#levels;
    if (levels === undefined) return this.#base.peek();
    for (const level of levels) {
      const waiter = level.queue.peek();
      if (waiter !== undefined) return waiter;
    }
    return undefined;
  }

  /** Removes and returns the first waiter of the highest priority. The caller sets its `done`. */
  shift(): W | undefined {
    const levels = this.#levels;
    if (levels === undefined) {
      const waiter = this.#base.shift();
      if (waiter !== undefined) this.#size--;
      return waiter;
    }
    for (const level of levels) {
      if (level.queue.size === 0) continue;
      const waiter = level.queue.shift()!;
      this.#size--;
      if (level.queue.size === 0 && level.priority !== 0) this.#dropLevel(level);
      return waiter;
    }
    return undefined;
  }

  /** Forgets `waiter`, which is in this queue and whose `done` the caller has just set. */
  leave(waiter: W): void {
    this.#size--;
    if (waiter.priority === 0) {
      this.#base.leave(waiter);
      return;
    }
    const level = this.#byPriority.get(waiter.priority)!;
    level.queue.leave(waiter);
    if (level.queue.size === 0) this.#dropLevel(level);
  }

  /** Removes and returns every waiter still waiting, in the order they would be served. */
  drain(): W[] {
    const levels = this.#levels;
    this.#size = 0;
    if (levels === undefined) return this.#base.drain();
    const waiting: W[] = [];
    for (const level of levels) for (const waiter of level.queue.drain()) waiting.push(waiter);
    this.#levels = undefined;
    this.#byPriority.clear();
    return waiting;
  }

  #levelFor(priority: number): PriorityLevel<W> {
    let level = this.#byPriority.get(priority);
    if (level !== undefined) return level;
    level = { priority, queue: new WaitQueue<W>(this.#fanout) };
    this.#byPriority.set(priority, level);
    const levels = (this.#levels ??= [{ priority: 0, queue: this.#base }]);
    let i = 0;
    while (i < levels.length && levels[i]!.priority > priority) i++;
    levels.splice(i, 0, level);
    return level;
  }

  /** Drops an emptied level other than the base; back to the plain path once only the base is left. */
  #dropLevel(level: PriorityLevel<W>): void {
    const levels = this.#levels!;
    this.#byPriority.delete(level.priority);
    levels.splice(levels.indexOf(level), 1);
    if (levels.length === 1) this.#levels = undefined;
  }
}
