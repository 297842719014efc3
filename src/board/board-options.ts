/**
 * The types of the board's options, statistics and agent graph (`new Board(options)`,
 * `board.stats()`, `board.graph()`), apart from the board's class.
 */
import type { Tracer } from './otel.js';
import type { GraceOptions } from '../core/grace.js';
import type { AnyArtifactType, DraftOptions } from './artifact.js';
import type { BoardStore } from './store/contract.js';

/**
 * Options of `new Board()`.
 *
 * @example
 * ```ts
 * import { Board, MemoryStore } from 'skein/board';
 * const board = new Board({ store: new MemoryStore(), queueCapacity: 256, maxRunsPerWorkflow: 50, graceMs: 5_000 });
 * ```
 */
export interface BoardOptions extends GraceOptions {
  /** Where the board keeps its state (default: a new {@link MemoryStore}). */
  readonly store?: BoardStore;
  /** Runs that may wait in one agent's queue before publishers wait (default 1024; per agent with `queueCapacity(n)`). */
  readonly queueCapacity?: number;
  /**
   * The loop guard: runs one agent may have in one workflow on artifacts that descend from its own
   * outputs (a feedback loop), counted in the store across idle periods, before `LoopDetected` stops
   * it and an `error` event says so (default 1,000; `Infinity` for none). Volume through a chain is
   * never counted. An agent's own `maxRuns(n)` counts all its runs in a workflow instead.
   */
  readonly maxRunsPerWorkflow?: number;
  /**
   * How long a claimed run is this board's before another process may take it over (default 60,000
   * ms; sharing the store, 15,000 ms, renewed every third of it while the run lasts).
   */
  readonly leaseMs?: number;
  /**
   * Other boards (processes, machines) share this store: the board claims whatever runs of its agents
   * are queued in the store, not only those it queued; it polls the store every `pollMs` (default 500
   * ms) and listens to its notices when it has them (PostgreSQL); it renews its leases and requeues
   * expired ones (a dead board's runs); any board flushes due batch and join deadlines; cancel, pause
   * and resume reach every board; `runUntilIdle()` and `workflow.done()` ask the store, so they mean
   * "nothing left on any board"; `resume()` requeues only expired leases. `queueCapacity` does not
   * apply (the queue lives in the store). Default false: this board is the store's only user.
   */
  readonly shared?: boolean | { readonly pollMs?: number };
  /**
   * False: the board validates, routes and publishes (it needs the agents declared, to queue their
   * runs), flushes due gates and waits, but claims no run: workers run them (default true; meant
   * for `shared` boards).
   */
  readonly work?: boolean;
  /** The tracer for spans (default: `trace.getTracer('skein/board')` when `@opentelemetry/api` is installed). */
  readonly tracer?: Tracer;
  /**
   * Admission control for `board.start()`: at most this many workflows started with `start()` are
   * active (with work left) at once, counted in the store across every board sharing it (give them
   * all the same limit); further starts wait, first come first served on this board, storing
   * nothing while they wait (each bounded by its `timeoutMs` and `signal`). Needs a store with
   * `admitWorkflow` (the memory, SQLite and PostgreSQL stores have it). Default: no limit.
   */
  readonly maxActiveWorkflows?: number;
}

/**
 * Options of `board.publish()`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import { visibility } from 'skein/board';
 * const Note = artifactType('Note', z.string());
 * await using board = new Board();
 * await board.publish(Note, 'hi', { correlationId: 'order-42', tags: ['draft'], visibility: visibility.private(['editor']) });
 * ```
 */
export interface PublishCallOptions extends DraftOptions {
  /** The workflow it belongs to (default: a new one). */
  readonly correlationId?: string;
  /** Stops waiting for queue space (already aborted: nothing is stored); once stored, the artifact is scheduled regardless. */
  readonly signal?: AbortSignal;
}

/**
 * Options of `board.runUntilIdle()`.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * await board.runUntilIdle({ timeoutMs: 30_000, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface IdleOptions {
  /** Reject with a `TimeoutError` if the board is not idle in time. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Counters of one agent, as `board.stats()` gives them.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * for (const [agent, s] of Object.entries(board.stats().agents)) console.log(agent, s.queued, s.running, s.done, s.failed, s.retries);
 * ```
 */
export interface AgentStats {
  readonly queued: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Runs not executed because the agent's `.when(...)` condition did not hold when they were to start. */
  readonly skipped: number;
  readonly retries: number;
  /** The agent's current concurrency limit. */
  readonly maxConcurrency: number;
  /** What its runs reported using through `ctx.reportUsage` (a model's tokens), summed by name. */
  readonly usage: Readonly<Record<string, number>>;
}

/**
 * A snapshot of the board's counters.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * const { published, idle } = board.stats();
 * ```
 */
export interface BoardStats {
  readonly published: number;
  readonly idle: boolean;
  readonly agents: Readonly<Record<string, AgentStats>>;
  /** With `maxActiveWorkflows`: workflows this board started that are active, and its starts waiting for room (the store-wide count: `store.admittedWorkflows(now)`). */
  readonly admission?: { readonly max: number; readonly active: number; readonly waiting: number };
  /** What every agent's runs reported using, summed by name. */
  readonly usage: Readonly<Record<string, number>>;
}

/**
 * What `board.graph()` answers: the artifact types the board knows (those its agents consume or
 * publish) and what each agent consumes (one list of type names per `consumes` declaration) and publishes.
 *
 * @example
 * ```ts
 * import { Board, type BoardGraph } from 'skein/board';
 * await using board = new Board();
 * const { types, agents }: BoardGraph = board.graph();
 * ```
 */
export interface BoardGraph {
  readonly types: readonly AnyArtifactType[];
  readonly agents: readonly { readonly name: string; readonly consumes: readonly (readonly string[])[]; readonly publishes: readonly string[]; readonly labels: readonly string[]; readonly tenant: string | undefined }[];
}
