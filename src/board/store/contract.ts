/**
 * The store contract: every state change a board makes is one call here, and a SQL store runs each
 * call as one transaction. What happens in process (validation, matching subscriptions, visibility,
 * user functions such as `where` and `join.by`) is decided before the call; what must be atomic
 * (storing artifacts, creating runs, updating gates, loop counters, claims, completions, dead letters)
 * happens inside it.
 *
 * The units:
 * - {@link BoardStore.publish}: artifacts, the runs they schedule and the gate deposits they make,
 *   together or not at all; optionally closing due gates in the same unit.
 * - {@link BoardStore.claim}: queued runs of some agents for one owner, each with an attempt number
 *   and a lease; runs of paused or cancelled workflows are never claimed.
 * - {@link BoardStore.emit} and {@link BoardStore.complete}: a claimed run's outputs (and what they
 *   schedule), and its end, guarded by (owner, attempt). Outputs are keyed by (run id, output index):
 *   a run executed again after a crash never applies an output twice.
 * - {@link BoardStore.renewLeases}, {@link BoardStore.requeueExpired}: leases.
 * - {@link BoardStore.dueGates} + a publish unit with `closeGates`: batches that time out and joins
 *   that expire, from any process, exactly once (the close is guarded by the gate's version).
 * - A write with `embargoUntil` holds its artifact apart; {@link BoardStore.dueEmbargoes} + a publish
 *   unit with `releases`: embargoes that end, released (stored and scheduled) exactly once.
 * - {@link BoardStore.setWorkflowState}: pause, resume, cancel (cancel drops queued runs and gate
 *   entries of the workflow in the same unit).
 * - {@link BoardStore.pending}: the idle question, answered by the store.
 * - {@link BoardStore.fireTimer}: a timer's tick (its artifact and run) stored as the timer moves to
 *   its next slot, guarded by the timer's version, so that each tick fires once across processes.
 *
 * Runs execute at least once; their effects on the board apply exactly once.
 *
 * Every method may answer synchronously or with a promise (`Awaitable`), so that the memory store
 * keeps a synchronous fast path. Ids and keys are plain strings without NUL characters, storable in
 * every SQL engine; payloads are JSON-serialisable (the board checks it before a unit is built).
 */
import type { Artifact, ArtifactTypeOf } from '../artifact.js';
import type { ErrorSummary } from '../builtins.js';
import type { AnyArtifactType } from '../artifact.js';
import type { GateKind, GateState } from './gate-state.js';

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


/** A store method's answer: a value, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** A workflow's state: paused and cancelled workflows have none of their queued runs claimed. */
export type WorkflowState = 'active' | 'paused' | 'cancelled';

/**
 * A run to create. The board assigns its id; the store creates it unless its workflow's loop
 * counter for the agent reached `runLimit` (then it reports a {@link RunLimitReached}).
 */
export interface NewRun {
  readonly id: string;
  readonly agent: string;
  /** Which of the agent's `consumes` declarations (0-based) scheduled it. */
  readonly subscription: number;
  /** Its inputs, in the order the agent receives them. */
  readonly inputIds: readonly string[];
  readonly correlationId: string;
  /** Set when the run replays a dead letter. */
  readonly replayOf?: string | undefined;
  /** Runs this agent may have in this workflow, counted in the store across idle periods; none when undefined. */
  readonly runLimit?: number | undefined;
}

/** A run as stored: queued, or claimed by an owner. */
export interface RunRecord {
  readonly id: string;
  readonly agent: string;
  readonly subscription: number;
  readonly inputIds: readonly string[];
  readonly correlationId: string;
  /** Epoch milliseconds when it was created. */
  readonly enqueuedAt: number;
  readonly replayOf?: string | undefined;
  readonly state: RunState;
  /** How many times it was claimed (0 while it never was). */
  readonly attempt: number;
  /** Who claimed it (set while `running`). */
  readonly owner?: string | undefined;
  /** Epoch milliseconds when the claim's lease expires (set while `running`). */
  readonly leaseUntil?: number | undefined;
}

/** A stored run's state: waiting in its agent's queue, or claimed by an owner and executing. */
export type RunState = 'queued' | 'running';

/** A claimed run: what {@link BoardStore.claim} hands out. */
export interface ClaimedRun extends RunRecord {
  readonly state: 'running';
  readonly owner: string;
  readonly leaseUntil: number;
}

/** What guards a completion: a late owner, or an older attempt, changes nothing. */
export interface ClaimRef {
  readonly runId: string;
  readonly owner: string;
  readonly attempt: number;
}

/**
 * A gate deposit: an artifact entering an AND gate, a batch or a join. The store loads the gate
 * (`FOR UPDATE` in SQL), applies {@link depositIntoGate} and writes it back in the same unit.
 */
export interface GateDeposit {
  /** The gate's key ({@link gateKey}): storable, no NUL characters. */
  readonly key: string;
  readonly agent: string;
  readonly subscription: number;
  readonly kind: GateKind;
  /** The declared input type names, in order (one for a batch). */
  readonly typeNames: readonly string[];
  /** The positions this artifact may fill (its type may appear several times in an AND gate or a join). */
  readonly positions: readonly number[];
  /** A batch's size. */
  readonly batchSize?: number | undefined;
  /** A batch's timeout or a join's window, counted from the gate's opening; none when undefined. */
  readonly windowMs?: number | undefined;
  /** A join's count window: at most this many entries wait per position, the oldest pushed out beyond it; none when undefined. */
  readonly maxWaiting?: number | undefined;
  /** The join key, for joins. */
  readonly joinKey?: string | undefined;
  readonly artifactId: string;
  /** A joined group entering the batch its join feeds: the group's artifacts in declared order (`artifactId` is the first). */
  readonly artifactIds?: readonly string[] | undefined;
  readonly correlationId: string;
  /**
   * A join feeding a batch: a group this deposit completes is not a run but enters this batch gate
   * (`batchDepositOf` of `gate-state.ts`) in the same unit; the batch's run has the groups' artifacts, flattened.
   */
  readonly thenBatch?: { readonly key: string; readonly batchSize: number; readonly windowMs: number | undefined } | undefined;
  /** The id of the run created if this deposit completes a group. */
  readonly runId: string;
  readonly runLimit?: number | undefined;
}

/** One artifact to store, with the runs and gate deposits it causes. */
export interface ArtifactWrite {
  readonly artifact: Artifact;
  /** Runs of single-type subscriptions it schedules directly. */
  readonly runs: readonly NewRun[];
  readonly deposits: readonly GateDeposit[];
  /**
   * An embargo's end (epoch ms): the store holds the artifact apart instead of storing it (no read
   * finds it, `runs` and `deposits` must be empty) until a unit releases it ({@link PublishUnit.releases})
   * after {@link BoardStore.dueEmbargoes} answered it. Undefined: stored at once.
   */
  readonly embargoUntil?: number | undefined;
}

/** An output of a claimed run: keyed by (run id, index), applied at most once. */
export interface OutputWrite extends ArtifactWrite {
  readonly index: number;
}

/** Closes a due gate in a publish unit: refused (the unit is a `conflict`) unless the gate still has `version`. */
export interface GateClose {
  readonly key: string;
  readonly version: number;
  /** A timed-out batch's run (its inputs are what the gate held). */
  readonly run?: NewRun | undefined;
}

/**
 * A publish unit: external publishes, the board's facts, flushes of due gates.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board/store';
 * const store = new MemoryStore();
 * const artifact = { id: 'a1', type: 'Order', payload: { qty: 1 }, producedBy: 'external', correlationId: 'wf', tags: [], visibility: { kind: 'public' as const }, createdAt: new Date().toISOString(), causedBy: [] };
 * store.publish({ writes: [{ artifact, runs: [{ id: 'r1', agent: 'billing', subscription: 0, inputIds: ['a1'], correlationId: 'wf' }], deposits: [] }], now: Date.now() });
 * ```
 */
export interface PublishUnit {
  readonly writes: readonly ArtifactWrite[];
  /** Runs of artifacts stored before (a replay, a run scheduled later), created in the same unit. */
  readonly runs?: readonly NewRun[] | undefined;
  readonly closeGates?: readonly GateClose[] | undefined;
  /**
   * Ids of held (embargoed) artifacts this unit releases: each is stored by a write of the same unit
   * (with the runs and deposits it causes now), and leaves the held ones. The unit is a `conflict`
   * (nothing applied) unless every one of them is still held, so that of several processes releasing
   * the same artifact exactly one does.
   */
  readonly releases?: readonly string[] | undefined;
  /** The board's clock (epoch ms): `enqueuedAt`, gate openings and deadlines use it. */
  readonly now: number;
}

/** A run the store did not create because its workflow reached the agent's run limit. */
export interface RunLimitReached {
  readonly agent: string;
  readonly correlationId: string;
  readonly limit: number;
  readonly inputIds: readonly string[];
  /** True the first time this (workflow, agent) reaches it: report it once. */
  readonly first: boolean;
}

/**
 * What a unit did. `applied`: everything (but outputs applied before, which are skipped). `cancelled`:
 * an artifact's workflow is cancelled, nothing applied. `conflict`: a gate to close changed meanwhile,
 * nothing applied. `lost`: the claim is no longer held (lease expired, another attempt), nothing applied.
 */
export interface UnitResult {
  readonly status: 'applied' | 'cancelled' | 'conflict' | 'lost';
  /** The runs created, in creation order. */
  readonly runs: readonly RunRecord[];
  readonly limited: readonly RunLimitReached[];
  /** Outputs not applied because an earlier execution of the run applied them. */
  readonly duplicates: number;
  /** The earliest gate deadline this unit set (epoch ms), so the board can arm one timer. */
  readonly nextDeadline?: number | undefined;
}

/**
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board/store';
 * const store = new MemoryStore();
 * const claimed = store.claim({ owner: 'worker-1', agents: ['billing'], limit: 8, leaseMs: 30_000, now: Date.now() });
 * ```
 */
export interface ClaimRequest {
  readonly owner: string;
  readonly agents: readonly string[];
  /** At most this many runs (integer >= 1). */
  readonly limit: number;
  readonly leaseMs: number;
  readonly now: number;
}

/** A dead letter: a run that failed for good, kept to be inspected and replayed. */
export interface DeadLetter {
  readonly id: string;
  readonly run: RunRecord;
  readonly error: ErrorSummary;
  readonly attempts: number;
  /** ISO 8601, UTC. */
  readonly failedAt: string;
}

/**
 * How a claimed run ends. `finished`: its outputs (those not applied yet) go in the same unit.
 * `failed`: the `AgentFailed` fact and the dead letter in the same unit. `cancelled`: it ends without
 * effects. `released`: it goes back to its queue (shutdown handing work back), its attempt kept.
 */
export type Completion =
  | { readonly outcome: 'finished'; readonly outputs: readonly OutputWrite[] }
  | { readonly outcome: 'failed'; readonly fact: ArtifactWrite; readonly deadLetter: DeadLetter }
  | { readonly outcome: 'cancelled' }
  | { readonly outcome: 'released' };

/**
 * One completion of a batch ({@link BoardStore.completeMany}): a claimed run, guarded by its claim, and how it ends.
 *
 * @example
 * ```ts
 * import type { CompletionItem } from 'skein/board/store';
 * const item: CompletionItem = { claim: { runId: 'r1', owner: 'worker-1', attempt: 1 }, completion: { outcome: 'cancelled' } };
 * ```
 */
export interface CompletionItem {
  readonly claim: ClaimRef;
  readonly completion: Completion;
}

/** Which runs {@link BoardStore.listRuns} answers: every given field must match; an absent one matches all. */
export interface RunQuery {
  readonly agent?: string;
  readonly correlationId?: string;
  readonly state?: RunState;
}

/** Which dead letters {@link BoardStore.listDeadLetters} answers: `agent` and `correlationId` filter, `limit` caps the count. */
export interface DeadLetterQuery {
  readonly agent?: string;
  readonly correlationId?: string;
  readonly limit?: number;
}

/** The idle question: what is left to do, board-wide or in one workflow. */
export interface Pending {
  /** Queued runs of active workflows. */
  readonly queued: number;
  /** Queued runs of paused workflows (they wait for a resume, not for work). */
  readonly paused: number;
  readonly running: number;
  /**
   * Work that will happen by itself at a known time: open gates with a deadline (a batch timeout, a
   * join window) and held (embargoed) artifacts waiting for their release.
   */
  readonly timedGates: number;
}

/** What cancelling a workflow removed, in the same unit as the state change. */
export interface WorkflowChange {
  readonly previous: WorkflowState;
  /** Queued runs dropped (cancel only). */
  readonly dropped: readonly RunRecord[];
}

/**
 * A hint from a store shared by several boards: runs were queued for `agents`, or a workflow changed
 * state. Hints may be lost or late; a board sharing a store polls as well.
 *
 * @example
 * ```ts
 * import type { StoreNotice } from 'skein/board/store';
 * const describeNotice = (notice: StoreNotice) => (notice.kind === 'runs' ? notice.agents.join(',') : `${notice.correlationId} ${notice.state}`);
 * ```
 */
export type StoreNotice =
  | { readonly kind: 'runs'; readonly agents: readonly string[] }
  | { readonly kind: 'workflow'; readonly correlationId: string; readonly state: WorkflowState };

/**
 * A timer to keep in the store (an agent's `.schedule()`), as {@link BoardStore.registerTimer} receives it.
 *
 * @example
 * ```ts
 * import type { TimerDefinition } from 'skein/board/store';
 * const definition: TimerDefinition = { name: 'nightly', fingerprint: '["02:30"]', firstDueAt: Date.parse('2027-01-01T02:30:00Z') };
 * ```
 */
export interface TimerDefinition {
  /** The timer's name: its agent's. */
  readonly name: string;
  /** Identifies the schedule: a stored timer with another fingerprint starts over from `firstDueAt`. */
  readonly fingerprint: string;
  /** The workflow (correlation id) the timer belongs to: while it is paused or cancelled the timer is never due. */
  readonly workflow?: string | undefined;
  /** The first slot (epoch ms); undefined: a schedule with no slot left. */
  readonly firstDueAt: number | undefined;
}

/**
 * A timer as stored: its next slot, how many ticks it fired, and the version that guards firing it.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * const timers = await board.store.listTimers?.(); // [{ name, nextDueAt, ticks, version, ... }]
 * ```
 */
export interface TimerRecord {
  readonly name: string;
  readonly fingerprint: string;
  readonly workflow?: string | undefined;
  /** The next slot (epoch ms); undefined once the timer is done (its repeats used up, its schedule ended). */
  readonly nextDueAt: number | undefined;
  /** Ticks fired so far. */
  readonly ticks: number;
  /** Grows with every change: a fire unit names the version it read and is refused if it moved. */
  readonly version: number;
}

/**
 * Fires one tick of a timer, or skips its due slots, in one unit: the timer moves to `nextDueAt` and
 * `ticks` only if it still has `version`, and the tick's artifact and run (`write`) are stored in the
 * same transaction. So of any number of boards firing the same timer, exactly one fires each tick.
 *
 * @example
 * ```ts
 * import type { TimerFire } from 'skein/board/store';
 * const skipToNext: TimerFire = { name: 'nightly', version: 3, ticks: 2, nextDueAt: Date.parse('2027-01-02T02:30:00Z'), now: Date.now() };
 * ```
 */
export interface TimerFire {
  readonly name: string;
  /** The version the board read: the unit is a `conflict` (nothing applied) when the stored one differs. */
  readonly version: number;
  /** The tick count after this unit. */
  readonly ticks: number;
  readonly nextDueAt: number | undefined;
  /** The tick: its artifact and the run of the timer's agent; none when the unit only skips slots. */
  readonly write?: ArtifactWrite | undefined;
  readonly now: number;
}

/**
 * An entry of a store's key/value space ({@link BoardStore.listValues}).
 *
 * @example
 * ```ts
 * import type { StoredValue } from 'skein/board/store';
 * const entry: StoredValue = { key: 'hook-1', value: { url: 'https://example.com/hook', types: ['Order'] } };
 * ```
 */
export interface StoredValue {
  readonly key: string;
  /** JSON: what was put, read back. */
  readonly value: unknown;
}

/**
 * A start asking the store for a place among its admitted workflows ({@link BoardStore.admitWorkflow}).
 *
 * @example
 * ```ts
 * import type { AdmissionRequest } from 'skein/board/store';
 * const request: AdmissionRequest = { correlationId: 'order-42', inputId: 'wf-order-42', max: 100, reserveMs: 60_000, now: Date.now() };
 * ```
 */
export interface AdmissionRequest {
  /** The workflow asking (its correlation id). */
  readonly correlationId: string;
  /** Its input artifact's id: once that is stored, the place is held while the workflow has work. */
  readonly inputId: string;
  /** At most this many admitted workflows are active at once, store-wide (an integer >= 1). */
  readonly max: number;
  /** How long a place is held for an input not stored yet (a board that dies before storing it frees it then). */
  readonly reserveMs: number;
  readonly now: number;
}

/**
 * A store's answer to an {@link AdmissionRequest}.
 *
 * @example
 * ```ts
 * import type { AdmissionAnswer } from 'skein/board/store';
 * const full: AdmissionAnswer = { admitted: false, active: 100, retryAt: Date.now() + 5_000 };
 * ```
 */
export interface AdmissionAnswer {
  /** True when the workflow holds a place (taken now, or held since an earlier request). */
  readonly admitted: boolean;
  /** Admitted workflows active after this unit, store-wide (the asking one included when admitted). */
  readonly active: number;
  /**
   * Not admitted: the earliest instant (epoch ms) a place held for an input not stored yet lapses,
   * when the store would answer again without any run ending; undefined when no such place exists.
   */
  readonly retryAt?: number | undefined;
}

/**
 * The state a board keeps. Each method is one atomic unit.
 *
 * @example
 * ```ts
 * import { MemoryStore, type BoardStore } from 'skein/board/store';
 * const store: BoardStore = new MemoryStore(); // SQLite and PostgreSQL stores implement the same contract
 * ```
 */
export interface BoardStore {
  /**
   * Stores the unit's artifacts with their runs and gate deposits, and closes the gates named in
   * `closeGates`, all or nothing. An artifact id already stored is an error (nothing applied). A
   * write into a cancelled workflow makes the unit `cancelled`; a gate close whose version changed
   * makes it a `conflict`.
   */
  publish(unit: PublishUnit): Awaitable<UnitResult>;

  /**
   * Claims up to `limit` queued runs of `agents`, oldest first, for `owner`: each gets `attempt + 1`
   * and a lease until `now + leaseMs`. Runs of paused or cancelled workflows are skipped. Two
   * concurrent claims never return the same run.
   */
  claim(request: ClaimRequest): Awaitable<readonly ClaimedRun[]>;

  /**
   * Applies outputs of a claimed run before it completes (a streaming agent's yields), guarded by the
   * claim. An output whose (run id, index) was applied before is skipped and counted in `duplicates`.
   */
  emit(claim: ClaimRef, outputs: readonly OutputWrite[], now: number): Awaitable<UnitResult>;

  /**
   * Ends a claimed run with its completion, guarded by the claim: if `owner` or `attempt` no longer
   * hold it, nothing is applied and the status is `lost`. Outputs already applied are skipped. Outputs
   * into a cancelled workflow are not applied (status `cancelled`; the run still ends).
   */
  complete(claim: ClaimRef, completion: Completion, now: number): Awaitable<UnitResult>;

  /**
   * Optional: ends several claimed runs in one write (one transaction, one commit), each item exactly
   * as {@link complete} would (guarded by its own claim, all or nothing by itself), in order: a later
   * item sees what an earlier one did (its runs, its gate deposits). Answers each item's outcome in
   * order: `fulfilled` with its {@link UnitResult} (`applied`, `lost`, `cancelled`), or `rejected`
   * with the error that made that item fail (nothing of it applied, the others unaffected). Throws
   * (nothing applied) only when the write as a whole fails. A board without it calls `complete` per run.
   */
  completeMany?(items: readonly CompletionItem[], now: number): Awaitable<readonly PromiseSettledResult<UnitResult>[]>;

  /**
   * Optional hint: true when a commit costs enough (a disk write, a round trip) that the board should
   * group completions into {@link completeMany}, even for a store that answers synchronously: those
   * that end in the same turn of the event loop as a write go in the next one. A store answering with
   * promises has its completions grouped while a write is in flight whatever this says; with this, the
   * first completion of a turn also waits for the turn's end, to share its write with the others.
   */
  readonly groupCommit?: boolean;

  /** Extends the leases of runs `owner` still holds until `now + leaseMs`; answers the ids it no longer holds. */
  renewLeases(owner: string, runIds: readonly string[], leaseMs: number, now: number): Awaitable<readonly string[]>;

  /**
   * Puts running runs whose lease expired before `now` back at the head of their queues (their
   * attempt kept, so the next claim is a new attempt), and answers them. With `owner`, every run of
   * that owner regardless of its lease (a board resuming after its own crash, a worker known dead).
   */
  requeueExpired(now: number, options?: { readonly owner?: string }): Awaitable<readonly RunRecord[]>;

  /** Open gates whose deadline is at or before `now`, oldest deadline first, at most `limit`. Read only. */
  dueGates(now: number, limit: number): Awaitable<readonly GateState[]>;

  /** The earliest deadline of an open gate or end of an embargo (epoch ms), to arm a timer; undefined when none. */
  nextDeadline(): Awaitable<number | undefined>;

  /**
   * Held (embargoed) artifacts whose embargo ended at or before `now`, earliest end first, at most
   * `limit`: what a board releases with a publish unit naming them in `releases`. Read only.
   */
  dueEmbargoes(now: number, limit: number): Awaitable<readonly Artifact[]>;

  /**
   * Sets a workflow's state. Cancelling drops its queued runs and held (embargoed) artifacts and
   * removes its entries from open gates in the same unit; a cancelled workflow stays cancelled
   * (answers `previous: 'cancelled'`).
   */
  setWorkflowState(correlationId: string, state: WorkflowState): Awaitable<WorkflowChange>;
  /** A workflow's state; `active` for a workflow the store never paused or cancelled. */
  getWorkflowState(correlationId: string): Awaitable<WorkflowState>;
  /** Every workflow whose state is not `active`. */
  listWorkflowStates(): Awaitable<readonly { readonly correlationId: string; readonly state: WorkflowState }[]>;

  /** What is left to do, board-wide or in one workflow: the idle question. */
  pending(query?: { readonly correlationId?: string }): Awaitable<Pending>;

  /** The artifacts with these ids, in the same order; `undefined` for an unknown (or dropped) id. */
  getArtifacts(ids: readonly string[]): Awaitable<readonly (Artifact | undefined)[]>;
  /** Stored artifacts matching `query`, oldest first. */
  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Awaitable<Artifact<T>[]>;
  /** Stored artifacts matching `query` (every artifact without one), oldest first. */
  list(query?: ArtifactQuery): Awaitable<Artifact[]>;
  /** Queued (in queue order) and running runs. */
  listRuns(query?: RunQuery): Awaitable<readonly RunRecord[]>;
  /** Open gates, optionally those holding an artifact of one workflow. */
  listGates(query?: { readonly correlationId?: string }): Awaitable<readonly GateState[]>;

  /** Dead letters matching `query`, in the order they were stored. */
  listDeadLetters(query?: DeadLetterQuery): Awaitable<readonly DeadLetter[]>;
  /** Removes the dead letter and queues `run` (its replay) in one unit; undefined (nothing done) when unknown. */
  replayDeadLetter(id: string, run: NewRun, now: number): Awaitable<RunRecord | undefined>;

  /**
   * Optional (with the other timer methods; a board needs them for `.schedule()`): stores a timer
   * unless it is stored with the same fingerprint (then it keeps its state: a restart neither loses
   * nor repeats a tick). A different fingerprint starts the stored timer over at `firstDueAt`, its
   * tick count kept and its version bumped. Answers the timer as stored.
   */
  registerTimer?(definition: TimerDefinition): Awaitable<TimerRecord>;
  /** Optional: applies a {@link TimerFire} as one unit (`applied`, `conflict` when its version moved, `cancelled` when its workflow was). */
  fireTimer?(fire: TimerFire): Awaitable<UnitResult>;
  /**
   * Optional: timers among `names` whose next slot is at or before `now`, earliest first, at most
   * `limit`; those of paused or cancelled workflows are left out. Read only.
   */
  dueTimers?(names: readonly string[], now: number, limit: number): Awaitable<readonly TimerRecord[]>;
  /** Optional: the earliest next slot of the timers among `names` (those of paused or cancelled workflows left out); undefined when none. */
  nextTimerDue?(names: readonly string[]): Awaitable<number | undefined>;
  /** Optional: every stored timer, by name. */
  listTimers?(): Awaitable<readonly TimerRecord[]>;

  /**
   * Optional: calls `listener` with hints that other processes changed the store (runs queued, a
   * workflow's state changed), and answers the unsubscribe. A board in shared mode subscribes when
   * the store has it (PostgreSQL's `LISTEN/NOTIFY`) and polls either way.
   */
  onNotice?(listener: (notice: StoreNotice) => void): Awaitable<() => void>;

  /**
   * Optional: the entries of `namespace` in a small key/value space kept beside the board's state,
   * for what lives next to a board and must outlast its process (a server's webhook subscriptions and
   * failed deliveries), oldest first (an entry put again keeps its place). Namespaces are plain
   * strings; the board itself uses none.
   */
  listValues?(namespace: string): Awaitable<readonly StoredValue[]>;
  /** Optional: stores `value` (JSON-serialisable) under (`namespace`, `key`), replacing what was there. */
  putValue?(namespace: string, key: string, value: unknown): Awaitable<void>;
  /** Optional: removes (`namespace`, `key`); answers whether it was there. */
  deleteValue?(namespace: string, key: string): Awaitable<boolean>;

  /**
   * Optional (with {@link releaseWorkflowAdmission} and {@link admittedWorkflows}; a board needs them
   * for `maxActiveWorkflows`): admission control across every board of the store, as one unit (in
   * SQL: under a lock that serializes admissions). An admitted workflow is **active** while its input
   * is not stored and its place was taken less than `reserveMs` ago, or while it has work in the store:
   * a run queued (paused included) or running, or an open gate with a deadline holding one of its
   * artifacts (what {@link pending} counts for it). The unit first forgets the places of admitted
   * workflows no longer active (however they ended: done, failed, cancelled, on any board, or their
   * board died before storing the input), then admits the request if the workflow holds a place
   * already or fewer than `max` are active, taking a place. Places are never given back explicitly:
   * they are recounted from the workflows' work, so a board that dies holds nothing.
   */
  admitWorkflow?(request: AdmissionRequest): Awaitable<AdmissionAnswer>;
  /** Optional: gives back the place of workflow `correlationId` if its input was not stored (a start that gave up or failed); answers whether it did. */
  releaseWorkflowAdmission?(correlationId: string): Awaitable<boolean>;
  /** Optional: how many admitted workflows are active at `now`, store-wide. Read only. */
  admittedWorkflows?(now: number): Awaitable<number>;

  /** Releases connections and files. */
  close?(): Awaitable<void>;
}

/**
 * Refuses a held (embargoed) write that would schedule anything: what an artifact schedules is
 * decided when it is released. Every store checks its writes with it.
 *
 * @example
 * ```ts
 * import { checkEmbargoWrite } from 'skein/board/store';
 * const artifact = { id: 'a1', type: 'Note', payload: 1, producedBy: 'external', correlationId: 'wf', tags: [], visibility: { kind: 'public' as const }, createdAt: new Date().toISOString(), causedBy: [] };
 * checkEmbargoWrite({ artifact, runs: [], deposits: [], embargoUntil: Date.now() + 1_000 }); // fine
 * ```
 */
export function checkEmbargoWrite(write: ArtifactWrite): void {
  if (write.embargoUntil === undefined) return;
  if (typeof write.embargoUntil !== 'number' || !Number.isFinite(write.embargoUntil)) {
    throw new TypeError(`embargoUntil of artifact ${write.artifact.id} must be epoch milliseconds, got ${String(write.embargoUntil)}`);
  }
  if (write.runs.length > 0 || write.deposits.length > 0) {
    throw new TypeError(`artifact ${write.artifact.id} is held under an embargo: it schedules nothing until it is released (runs and deposits must be empty)`);
  }
}
