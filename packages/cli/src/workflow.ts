/**
 * The workflow module contract: what a file given to `skein run <file>` exports. A workflow says how
 * to build its board, what to publish to start it, and (optionally) what to do once the board is
 * idle, such as writing a report. The CLI does the rest: progress, limits, deadline, shutdown.
 */
import type { AnyArtifactType, Board, BoardEvent, BoardStats, DraftOptions } from 'skein/board';
import { assertFunction, assertOptions, describe } from './validate.js';

/**
 * The part of a {@link Board} the CLI drives. Any `Board` fits; the CLI never checks `instanceof`,
 * so a workflow loaded through another module instance of skein still works.
 */
export type RunnableBoard = Pick<Board, 'publish' | 'runUntilIdle' | 'events' | 'shutdown'> & {
  stats?: () => BoardStats;
  /** Where the board keeps artifacts and dead letters; the summary names it when runs failed. */
  readonly store?: unknown;
  /** Picks up what a durable store holds (`--store`). */
  resume?: Board['resume'];
};

/** What the CLI hands to each part of a workflow. */
export interface WorkflowContext {
  /** The command-line arguments after the workflow file (`skein run flow.ts -- a b` gives `['a', 'b']`). */
  readonly args: readonly string[];
  /** The directory the command was run from. */
  readonly cwd: string;
  /** Aborts when the run must stop: Ctrl-C, SIGTERM or `--timeout`. */
  readonly signal: AbortSignal;
  /**
   * The concurrency to give agent `name`: the `--concurrency name=N` override if there is one, else
   * `--concurrency N` if given, else `fallback`. Call it for every agent whose limit may be changed.
   */
  concurrency(name: string, fallback: number): number;
  /**
   * Registers a cleanup (closing a worker pool, a file) that runs after the board has shut down,
   * whether the run completed, failed or was interrupted; cleanups run last-registered first.
   */
  defer(cleanup: () => unknown): void;
}

/** One artifact to publish when the run starts. */
export interface WorkflowInput<T extends AnyArtifactType = AnyArtifactType> {
  readonly type: T;
  readonly payload: unknown;
  /** The workflow it starts; by default each input starts its own. */
  readonly correlationId?: string;
  readonly tags?: DraftOptions['tags'];
}

/** What {@link Workflow.finish} reports: files written and a few lines worth showing. */
export interface WorkflowResult {
  /** Files (or other places) the workflow wrote, shown at the end of the run. */
  readonly outputs?: readonly { readonly label: string; readonly path: string }[];
  /** Short lines printed after the summary table (at most a handful). */
  readonly notes?: readonly string[];
}

/** A workflow module's default export (or its `workflow` export). */
export interface Workflow<B extends RunnableBoard = RunnableBoard> {
  /** Shown in the progress view and the summary. */
  readonly name: string;
  /** One line, shown by `skein run --help`-style listings and in docs. */
  readonly description?: string;
  /** Builds the board with its agents. Called once per run. */
  createBoard(context: WorkflowContext): B | Promise<B>;
  /** The artifacts that start the run; the CLI publishes them in order, with backpressure. */
  inputs(context: WorkflowContext, board: B): Iterable<WorkflowInput> | AsyncIterable<WorkflowInput> | Promise<Iterable<WorkflowInput>>;
  /**
   * Runs once the board is idle and every input was handled, before the board shuts down: read the
   * store, write a report, say where it went. Not called when the run was interrupted.
   */
  finish?(context: WorkflowContext, board: B): WorkflowResult | void | Promise<WorkflowResult | void>;
}

/**
 * Declares a workflow for `skein run`. It returns its argument unchanged; its use is the typing (the
 * board type flows from `createBoard` to `inputs` and `finish`) and the checks, which fail early with
 * a message naming what is missing.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { defineWorkflow } from '@skein/cli';
 * import { z } from 'zod';
 *
 * const Name = artifactType('Name', z.string());
 * const Greeting = artifactType('Greeting', z.string());
 *
 * export default defineWorkflow({
 *   name: 'greet',
 *   createBoard(ctx) {
 *     const board = new Board();
 *     board.agent('greeter').consumes(Name).publishes(Greeting)
 *       .maxConcurrency(ctx.concurrency('greeter', 2))
 *       .handle(([name]) => `hello, ${name.payload}`);
 *     return board;
 *   },
 *   inputs: (ctx) => (ctx.args.length > 0 ? ctx.args : ['world']).map((name) => ({ type: Name, payload: name })),
 * });
 * ```
 */
export function defineWorkflow<B extends RunnableBoard>(workflow: Workflow<B>): Workflow<B> {
  assertWorkflow(workflow, 'defineWorkflow');
  return workflow;
}

/** Checks the shape of a workflow; the message says which member is wrong. */
export function assertWorkflow(value: unknown, what: string): asserts value is Workflow {
  assertOptions(value, what);
  if (value === undefined) throw new TypeError(`${what} must be a workflow object, got undefined`);
  const workflow = value as Partial<Record<keyof Workflow, unknown>>;
  if (typeof workflow.name !== 'string' || workflow.name === '') {
    throw new TypeError(`${what}: name must be a non-empty string, got ${describe(workflow.name)}`);
  }
  assertFunction(workflow.createBoard, `${what}: createBoard`);
  assertFunction(workflow.inputs, `${what}: inputs`);
  if (workflow.finish !== undefined) assertFunction(workflow.finish, `${what}: finish`);
}

/** True when `value` has what the CLI needs of a board (checked by shape, not by class). */
export function isRunnableBoard(value: unknown): value is RunnableBoard {
  if (typeof value !== 'object' || value === null) return false;
  const board = value as Record<string, unknown>;
  return ['publish', 'runUntilIdle', 'events', 'shutdown'].every((method) => typeof board[method] === 'function');
}

/** Re-exported for workflow authors who type their own event consumers. */
export type { BoardEvent };
