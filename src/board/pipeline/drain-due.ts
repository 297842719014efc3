/**
 * The loop that fires what is due in the store (timer ticks, ended embargoes): read a batch of due
 * items, apply each in a unit of its own (a unit that fails is reported and the rest go on), and read
 * again until a batch makes no progress or, with `batchSize`, comes back short. Answers how many
 * units this process applied (another process may have applied the rest first).
 */
import { isThenable } from '../../core/task.js';
import type { Awaitable } from '../store/contract.js';
import type { Pipeline } from './pipeline.js';

export interface DueWork<T> {
  /** The items due at `now`. */
  readonly read: (now: number) => Awaitable<readonly T[]>;
  /** Applies one item; false when another process applied it first. */
  readonly apply: (item: T, now: number) => Promise<boolean>;
  /** Reports a unit that failed (an `error` event), unless the board is closing. */
  readonly failed: (item: T, error: unknown) => void;
  /** With it, a batch shorter than this ends the pass; without, only an empty one does. */
  readonly batchSize?: number;
}

export async function drainDue<T>(ctx: Pipeline, work: DueWork<T>): Promise<number> {
  let applied = 0;
  for (;;) {
    if (ctx.closed) return applied;
    const now = Date.now();
    const found = work.read(now);
    const due = isThenable(found) ? await found : found;
    let progress = 0;
    for (const item of due) {
      try {
        if (await work.apply(item, now)) progress++;
      } catch (error) {
        if (!ctx.closed) work.failed(item, error);
      }
    }
    applied += progress;
    if (progress === 0 || due.length === 0 || (work.batchSize !== undefined && due.length < work.batchSize)) return applied;
  }
}
