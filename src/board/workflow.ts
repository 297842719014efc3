/**
 * A workflow: every artifact and run that shares one correlation id. Its handle lets a caller wait
 * for it, cancel it, or pause and resume it, while every other workflow on the board carries on.
 */
import type { Artifact } from './artifact.js';
import type { ArtifactQuery, WorkflowState } from './store/contract.js';

/**
 * Options of `workflow.done()`.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * await board.workflow('order-42').done({ timeoutMs: 60_000 });
 * ```
 */
export interface WaitOptions {
  /** Reject with a `TimeoutError` if not done in time. */
  readonly timeoutMs?: number;
  /** Stop waiting (the workflow itself goes on). */
  readonly signal?: AbortSignal;
}

/** @internal What a workflow handle needs from its board. */
export interface WorkflowControl {
  workflowState(id: string): WorkflowState;
  waitForWorkflow(id: string, options: WaitOptions | undefined): Promise<void>;
  cancelWorkflow(id: string, reason: unknown): Promise<void>;
  pauseWorkflow(id: string): Promise<void>;
  resumeWorkflow(id: string): Promise<void>;
  listArtifacts(query: ArtifactQuery): Promise<Artifact[]>;
  workflowUsage(id: string): Readonly<Record<string, number>>;
}

/**
 * The handle of one workflow, from `board.workflow(correlationId)`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Job = artifactType('Job', z.object({ n: z.number() }));
 * await using board = new Board();
 * board.agent('worker').consumes(Job).handle(() => {});
 * const job = await board.publish(Job, { n: 1 });
 * await board.workflow(job.correlationId).done(); // its runs have finished
 * ```
 */
export class Workflow {
  readonly id: string;
  readonly #control: WorkflowControl;

  /** @internal Made by `board.workflow(id)`. */
  constructor(id: string, control: WorkflowControl) {
    this.id = id;
    this.#control = control;
  }

  /** `'active'`, `'paused'` or `'cancelled'`. */
  get state(): WorkflowState {
    return this.#control.workflowState(this.id);
  }

  /**
   * Resolves when no run of this workflow is queued (paused runs included) or running, no batch or
   * join of it waits on a timer, and no publish into it is in progress. Rejects with a
   * `CancelledError` if the workflow is cancelled.
   */
  done(options?: WaitOptions): Promise<void> {
    return this.#control.waitForWorkflow(this.id, options);
  }

  /**
   * Cancels the workflow: its queued runs are dropped, its running runs aborted (they end as
   * cancelled, not failed), its open batches and joins discarded, and later publishes into it are
   * rejected. Resolves when its running runs have settled.
   */
  cancel(reason?: unknown): Promise<void> {
    return this.#control.cancelWorkflow(this.id, reason);
  }

  /** Stops starting runs of this workflow; running ones finish. Its queued runs wait for `resume()`. */
  pause(): Promise<void> {
    return this.#control.pauseWorkflow(this.id);
  }

  resume(): Promise<void> {
    return this.#control.resumeWorkflow(this.id);
  }

  /** The workflow's artifacts (all of them: this is the caller's view, not an agent's). */
  artifacts(query?: Omit<ArtifactQuery, 'correlationId'>): Promise<Artifact[]> {
    return this.#control.listArtifacts({ ...query, correlationId: this.id });
  }

  /**
   * What the workflow's runs reported with `ctx.reportUsage` (an LLM engine's tokens, say), summed
   * by name: a frozen copy, `{}` when none reported. The sums outlive the workflow's work, but a
   * board keeps those of its 10,000 most recently updated workflows only (the one updated longest
   * ago is forgotten first), and only of runs this board ran (not in the store: a restart or
   * another board sharing the store starts from nothing).
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Job = artifactType('Job', z.number());
   * await using board = new Board();
   * board.agent('worker').consumes(Job).handle((_inputs, ctx) => ctx.reportUsage({ inputTokens: 120, outputTokens: 30 }));
   * const job = await board.publish(Job, 1);
   * await board.workflow(job.correlationId).done();
   * assert.deepEqual(board.workflow(job.correlationId).usage(), { inputTokens: 120, outputTokens: 30 });
   * ```
   */
  usage(): Readonly<Record<string, number>> {
    return this.#control.workflowUsage(this.id);
  }
}
