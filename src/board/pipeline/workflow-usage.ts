/**
 * Usage summed per workflow: what the runs of each workflow reported with `ctx.reportUsage`, keyed by
 * correlation id. Kept apart from the workflow records (`Workflows`), which are pruned as soon as a
 * workflow has no work, so the sums outlive them. Bounded: at most `limit` workflows are kept, and
 * past it the one updated longest ago is forgotten (a `Map` keeps insertion order; an update moves
 * its workflow to the end). Costs nothing until a run reports usage.
 */
import { addUsage } from '../run-context.js';

/** How many workflows' usage a board keeps by default. */
export const MAX_WORKFLOW_USAGE = 10_000;

const NONE: Readonly<Record<string, number>> = Object.freeze({});

export class WorkflowUsage {
  readonly limit: number;
  readonly #sums = new Map<string, Record<string, number>>();

  constructor(limit = MAX_WORKFLOW_USAGE) {
    this.limit = limit;
  }

  /** How many workflows have sums kept. */
  get size(): number {
    return this.#sums.size;
  }

  /** Adds `usage` to the workflow's sums, making it the most recently updated. */
  add(correlationId: string, usage: Readonly<Record<string, number>>): void {
    const sums = this.#sums;
    let sum = sums.get(correlationId);
    if (sum === undefined) {
      sum = {};
      if (sums.size >= this.limit) sums.delete(sums.keys().next().value!);
    } else {
      sums.delete(correlationId);
    }
    sums.set(correlationId, sum);
    addUsage(sum, usage);
  }

  /** A frozen copy of the workflow's sums; an empty object when it reported none or was forgotten. */
  get(correlationId: string): Readonly<Record<string, number>> {
    const sum = this.#sums.get(correlationId);
    return sum === undefined ? NONE : Object.freeze({ ...sum });
  }
}
