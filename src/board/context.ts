/**
 * What an agent's body, engines and hooks receive besides their inputs: the run's signal, a way to
 * publish, and a view of the board filtered by what this agent may see.
 */
import type { Artifact, ArtifactType, ArtifactTypeOf, DraftOptions } from './artifact.js';
import type { ArtifactQuery } from './store/contract.js';
import type { TimerTickPayload } from './builtins.js';

/**
 * The board as one agent may read it: artifacts it may not see are left out.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Note = artifactType('Note', z.string());
 * await using board = new Board();
 * board.agent('reader').consumes(Note).handle(async ([note], ctx) => {
 *   const earlier = await ctx.board.list({ type: Note, correlationId: note.correlationId });
 * });
 * ```
 */
export interface BoardReader {
  /** Stored artifacts matching `query` that this agent may see, oldest first. */
  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Promise<Artifact<T>[]>;
  list(query?: ArtifactQuery): Promise<Artifact[]>;
  /** The artifact with this id, or `undefined` when it does not exist or this agent may not see it. */
  get(id: string): Promise<Artifact | undefined>;
}

/**
 * The context of one attempt of one run.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Url = artifactType('Url', z.string());
 * const Page = artifactType('Page', z.string());
 * await using board = new Board();
 * board.agent('fetch').consumes(Url).publishes(Page).handle(async ([url], ctx) => {
 *   const response = await fetch(url.payload, { signal: ctx.signal });
 *   await ctx.publish(Page, await response.text());
 * });
 * ```
 */
export interface AgentContext {
  /** Aborts when the run is cancelled (its workflow cancelled, the board shut down) or its attempt times out. */
  readonly signal: AbortSignal;
  readonly agent: string;
  readonly runId: string;
  readonly correlationId: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** The run's inputs (after `preConsume` hooks). */
  readonly inputs: readonly Artifact[];
  /**
   * Publishes an artifact now, in this run's workflow, as this agent. The type must be one the agent
   * declared with `publishes`. Resolves once it is stored and scheduled.
   */
  publish<T, I>(type: ArtifactType<T, I>, payload: I, options?: DraftOptions): Promise<Artifact<T>>;
  /** Reads the board, filtered by this agent's visibility. */
  readonly board: BoardReader;
  /** The tick that started this run, when the agent's timer did (`.schedule()`); undefined for a run an artifact started. */
  readonly timer?: TimerTickPayload | undefined;
  /**
   * Reports how the run is getting on (a model's streamed tokens, a partial answer) as a `progress`
   * board event, for live views. Nothing is stored; without event subscribers it costs nothing.
   */
  reportProgress(detail: unknown): void;
  /**
   * Adds to what this run used, as counts by name (`{ inputTokens: 120, outputTokens: 40 }`): a
   * `usage` board event, summed per agent and for the board in `board.stats()`, and on the run's
   * span as `skein.usage.<name>` attributes. Counts must be finite numbers >= 0.
   */
  reportUsage(usage: Readonly<Record<string, number>>): void;
}
