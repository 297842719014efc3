/**
 * The store contract: the one interface through which a board keeps its state. Artifacts, the run
 * queue, workflow states, gate state (AND gates, batches, joins) and dead letters all live behind it,
 * so a durable store (SQLite, PostgreSQL) can replace the in-memory one without changing the board.
 *
 * Every method may answer synchronously or with a promise; the board awaits each answer. The board
 * serialises its gate reads and writes itself, so a store needs no locking for them; a store shared
 * by several boards must make `claimRun` atomic (for instance `FOR UPDATE SKIP LOCKED`).
 */
import type { AnyArtifactType, Artifact, ArtifactTypeOf } from './artifact.js';
import type { ErrorSummary } from './builtins.js';

export type Awaitable<T> = T | Promise<T>;

/**
 * A query over stored artifacts, in publication order.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * const recent = await board.store.list({ type: 'Order', producedBy: 'external', since: new Date(Date.now() - 60_000), limit: 100 });
 * ```
 */
export interface ArtifactQuery {
  /** An artifact type or its name. */
  readonly type?: AnyArtifactType | string;
  readonly correlationId?: string;
  readonly producedBy?: string;
  /** Only artifacts created at or after this instant (a `Date` or an ISO 8601 string). */
  readonly since?: Date | string;
  /** At most this many (the oldest first). */
  readonly limit?: number;
}

/**
 * A run waiting in, or taken from, the run queue.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board';
 * const store = new MemoryStore();
 * store.enqueueRun({ id: 'r1', agent: 'worker', subscription: 0, inputIds: ['a1'], correlationId: 'wf', enqueuedAt: Date.now() });
 * store.claimRun('worker')?.id; // 'r1'
 * ```
 */
export interface RunRecord {
  readonly id: string;
  readonly agent: string;
  /** Which of the agent's `consumes` declarations (0-based) scheduled it. */
  readonly subscription: number;
  /** Its inputs, in the order the agent receives them. */
  readonly inputIds: readonly string[];
  readonly correlationId: string;
  /** Epoch milliseconds. */
  readonly enqueuedAt: number;
  /** Set when the run replays a dead letter. */
  readonly replayOf?: string | undefined;
}

export type RunState = 'queued' | 'running';
export type RunOutcome = 'finished' | 'failed' | 'cancelled';

/** A workflow's state: paused and cancelled workflows have none of their queued runs claimed. */
export type WorkflowState = 'active' | 'paused' | 'cancelled';

/**
 * Partial state of an AND gate, a batch or a join, keyed by agent, subscription, correlation id (and join key).
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board';
 * const open = new MemoryStore().listGates({ correlationId: 'wf' }); // batches and joins still waiting
 * ```
 */
export interface GateRecord {
  readonly key: string;
  readonly agent: string;
  readonly subscription: number;
  readonly correlationId: string;
  readonly kind: 'and' | 'batch' | 'join';
  /** The join key, for joins. */
  readonly joinKey?: string | undefined;
  /** Waiting artifact ids, one FIFO list per input position (a batch uses one list). */
  readonly slots: string[][];
  /** Epoch milliseconds when the first waiting artifact arrived. */
  readonly openedAt: number;
  /** Epoch milliseconds when a batch flushes or a join expires; undefined when it never does. */
  readonly deadline?: number | undefined;
}

/**
 * A run that failed for good, kept so that it can be inspected and replayed.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * for (const letter of await board.deadLetters({ agent: 'fetcher' })) await board.replayDeadLetter(letter.id);
 * ```
 */
export interface DeadLetter {
  readonly id: string;
  readonly run: RunRecord;
  readonly error: ErrorSummary;
  readonly attempts: number;
  /** ISO 8601, UTC. */
  readonly failedAt: string;
}

export interface DeadLetterQuery {
  readonly agent?: string;
  readonly correlationId?: string;
  readonly limit?: number;
}

export interface RunCountQuery {
  readonly agent?: string;
  readonly correlationId?: string;
  readonly state?: RunState;
}

/**
 * The state a board keeps. See the module comment for the guarantees each method owes.
 *
 * @example
 * ```ts
 * import { Board, MemoryStore, type BoardStore } from 'skein/board';
 * const store: BoardStore = new MemoryStore(); // a durable store implements the same interface
 * await using board = new Board({ store });
 * ```
 */
export interface BoardStore {
  /** Stores an artifact. Its id is new. */
  putArtifact(artifact: Artifact): Awaitable<void>;
  /** The artifacts with these ids, in the same order; `undefined` for an unknown id. */
  getArtifacts(ids: readonly string[]): Awaitable<readonly (Artifact | undefined)[]>;
  /** Stored artifacts matching `query`, oldest first. */
  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Awaitable<Artifact<T>[]>;
  list(query?: ArtifactQuery): Awaitable<Artifact[]>;

  /** Appends a run to its agent's queue (state `queued`). */
  enqueueRun(run: RunRecord): Awaitable<void>;
  /**
   * Takes the oldest queued run of `agent` whose workflow is active, marks it `running` and returns
   * it; `undefined` when there is none.
   */
  claimRun(agent: string): Awaitable<RunRecord | undefined>;
  /** Ends a running run; it no longer counts anywhere. */
  finishRun(runId: string, outcome: RunOutcome): Awaitable<void>;
  /** Removes queued runs (of one workflow, or all) and returns them. Running runs are not touched. */
  cancelQueuedRuns(correlationId?: string): Awaitable<RunRecord[]>;
  /** How many runs are queued or running, optionally of one agent, workflow or state. */
  countRuns(query?: RunCountQuery): Awaitable<number>;
  /** The queued or running runs, optionally of one agent, workflow or state; queued ones in queue order. */
  listRuns(query?: RunCountQuery): Awaitable<RunRecord[]>;
  /**
   * After a crash: puts every run still marked `running` back at the head of its agent's queue (in
   * the order they were claimed) and returns them. Their previous attempt's outcome is unknown, so they
   * run again: runs are at least once.
   */
  requeueRunning(): Awaitable<RunRecord[]>;

  /** Records a workflow's state (`active` is the default for every unknown workflow). */
  setWorkflowState(correlationId: string, state: WorkflowState): Awaitable<void>;
  getWorkflowState(correlationId: string): Awaitable<WorkflowState>;
  /** Every workflow whose state is not `active`. */
  listWorkflowStates(): Awaitable<{ readonly correlationId: string; readonly state: WorkflowState }[]>;

  getGate(key: string): Awaitable<GateRecord | undefined>;
  /** Creates or replaces a gate record. */
  putGate(gate: GateRecord): Awaitable<void>;
  deleteGate(key: string): Awaitable<void>;
  /** Open gates, optionally of one workflow. */
  listGates(query?: { readonly correlationId?: string }): Awaitable<GateRecord[]>;

  addDeadLetter(letter: DeadLetter): Awaitable<void>;
  listDeadLetters(query?: DeadLetterQuery): Awaitable<DeadLetter[]>;
  /** Removes and returns a dead letter (to replay it); `undefined` when unknown. */
  takeDeadLetter(id: string): Awaitable<DeadLetter | undefined>;

  /** Releases connections and files. Optional. */
  close?(): Awaitable<void>;
}
