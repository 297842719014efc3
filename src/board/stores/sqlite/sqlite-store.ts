/**
 * The SQLite store: a board's state in one file, surviving the process. Every unit of the store
 * contract is one `BEGIN IMMEDIATE` transaction on a synchronous driver, so a unit is applied
 * entirely or not at all, whatever instant the process dies at, and the store answers without
 * promises (the board keeps its synchronous fast path).
 *
 * The file uses the WAL journal: readers never wait for the writer, and a commit is one append.
 * Several processes may open the same file: units serialise on SQLite's write lock (waiting up to
 * `busyTimeoutMs`), claims never hand one run to two owners, and due gates are closed once, guarded
 * by their version. Each process should use its own `SqliteStore`.
 *
 * Gates are stored as the JSON state the pure gate logic (`gate-state.ts`) works on, one row per
 * gate, read and written back inside the unit that deposits into it.
 */
import type { Artifact, ArtifactTypeOf } from '../../artifact.js';
import { assertInteger } from '../../../core/validate.js';
import { checkArtifactQuery } from '../../query.js';
import type {
  AdmissionAnswer,
  AdmissionRequest,
  ArtifactQuery,
  ArtifactWrite,
  BoardStore,
  ClaimedRun,
  ClaimRef,
  ClaimRequest,
  Completion,
  CompletionItem,
  DeadLetter,
  DeadLetterQuery,
  GateClose,
  GateDeposit,
  NewRun,
  OutputWrite,
  Pending,
  PublishUnit,
  RunLimitReached,
  RunQuery,
  RunRecord,
  TimerDefinition,
  TimerFire,
  TimerRecord,
  UnitResult,
  WorkflowChange,
  WorkflowState,
  StoredValue,
} from '../../store/contract.js';
import { completeBatch } from '../../store/batch-completion.js';
import { checkWrites } from '../../store/check-writes.js';
import { checkValueKey, valueText } from '../../store/values.js';
import { batchDepositOf, cloneGate, depositIntoGate, entriesAt, expireGate, groupRun, openGate, queuedRun, removeWorkflowFromGate, type GateState } from '../../store/gate-state.js';
import type { SqlRow, SqliteDriver } from './driver.js';
import { currentProcess, mayBeAlive, type ProcessIdentity } from './liveness.js';
import { migrate } from './migrations.js';
import { openDriver } from './open-driver.js';
import { resolveSqliteOptions, type ResolvedSqliteOptions, type SqliteStoreOptions } from './options.js';
import { SQL } from './statements.js';
import { TIMER_SQL } from './timer-statements.js';
import { admittedWorkflows, admitWorkflow, releaseWorkflowAdmission } from './admission.js';

const NO_RUNS: readonly RunRecord[] = Object.freeze([]);
const NO_LIMITS: readonly RunLimitReached[] = Object.freeze([]);
const NO_WORKFLOWS: ReadonlySet<string> = new Set();

/** A unit's outcome while it is being applied. */
class UnitLog {
  runs: RunRecord[] | undefined;
  limited: RunLimitReached[] | undefined;
  duplicates = 0;
  nextDeadline: number | undefined;

  result(status: UnitResult['status'] = 'applied'): UnitResult {
    return { status, runs: this.runs ?? NO_RUNS, limited: this.limited ?? NO_LIMITS, duplicates: this.duplicates, nextDeadline: this.nextDeadline };
  }

  deadlineSet(deadline: number): void {
    if (this.nextDeadline === undefined || deadline < this.nextDeadline) this.nextDeadline = deadline;
  }
}

function nothing(status: UnitResult['status']): UnitResult {
  return { status, runs: NO_RUNS, limited: NO_LIMITS, duplicates: 0, nextDeadline: undefined };
}

function runRecord(row: SqlRow): RunRecord {
  return {
    id: row.id as string,
    agent: row.agent as string,
    subscription: row.subscription as number,
    inputIds: JSON.parse(row.input_ids as string) as string[],
    correlationId: row.correlation_id as string,
    enqueuedAt: row.enqueued_at as number,
    replayOf: (row.replay_of as string | null) ?? undefined,
    state: row.state as RunRecord['state'],
    attempt: row.attempt as number,
    owner: (row.owner as string | null) ?? undefined,
    leaseUntil: (row.lease_until as number | null) ?? undefined,
  };
}

/** Runs in queue order (RETURNING gives no order of its own). */
function inQueueOrder(rows: SqlRow[]): SqlRow[] {
  return rows.sort((a, b) => (a.seq as number) - (b.seq as number));
}

/** The workflows that have entries waiting in `gate`. */
function workflowsIn(gate: GateState): ReadonlySet<string> {
  const found = new Set<string>();
  for (let i = 0; i < gate.slots.length; i++) for (const entry of entriesAt(gate, i)) found.add(entry.correlationId);
  return found;
}

/** Checks a completion's writes before its transaction starts. */
function checkCompletion(completion: Completion): void {
  if (completion.outcome === 'finished') checkWrites(completion.outputs);
  else if (completion.outcome === 'failed') checkWrites([completion.fact]);
}

function timerRecord(row: SqlRow): TimerRecord {
  return {
    name: row.name as string,
    fingerprint: row.fingerprint as string,
    workflow: (row.workflow as string | null) ?? undefined,
    nextDueAt: (row.next_due_at as number | null) ?? undefined,
    ticks: row.ticks as number,
    version: row.version as number,
  };
}

/**
 * A board store in a SQLite file: durable on one machine, resumable after a crash.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * import { SqliteStore } from 'skein/board/sqlite';
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const path = join(mkdtempSync(join(tmpdir(), 'skein-')), 'run.db');
 * await using store = new SqliteStore({ path }); // or new SqliteStore(`sqlite:${path}`)
 * store.pending(); // { queued: 0, paused: 0, running: 0, timedGates: 0 }
 * ```
 */
export class SqliteStore implements BoardStore {
  /** Completions are worth grouping: a commit writes to the WAL (see {@link BoardStore.groupCommit}). */
  readonly groupCommit = true;
  /** The options the store was opened with, defaults applied. */
  readonly options: ResolvedSqliteOptions;
  readonly #db: SqliteDriver;
  readonly #process: ProcessIdentity = currentProcess();
  /** Owner names this store recorded as claiming from this process. */
  readonly #owners = new Set<string>();
  #closed = false;

  /**
   * Opens (creating when missing) and migrates the database at `options.path`, at a `sqlite:` URL
   * (`sqlite:./run.db?synchronous=full`), or at a plain file path.
   */
  constructor(options: SqliteStoreOptions | string) {
    this.options = resolveSqliteOptions(options);
    this.#db = openDriver(this.options);
    try {
      const db = this.#db;
      // The busy timeout first: switching to WAL needs the lock another process may hold.
      db.exec(`PRAGMA busy_timeout = ${this.options.busyTimeoutMs}`);
      if (this.options.path !== ':memory:') db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${this.options.synchronous}`);
      migrate(db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** The driver in use: `'libsql'` or `'node:sqlite'`. */
  get driver(): string {
    return this.#db.name;
  }

  // ---------------------------------------------------------------------------------------------
  // Units

  publish(unit: PublishUnit): UnitResult {
    checkWrites(unit.writes);
    return this.#db.transaction(() => {
      for (const write of unit.writes) if (this.#workflowState(write.artifact.correlationId) === 'cancelled') return nothing('cancelled');
      for (const run of unit.runs ?? []) if (this.#workflowState(run.correlationId) === 'cancelled') return nothing('cancelled');
      const closing: GateState[] = [];
      for (const close of unit.closeGates ?? []) {
        const gate = this.#loadGate(close.key);
        if (gate?.version !== close.version) return nothing('conflict');
        closing.push(gate);
      }
      for (const id of unit.releases ?? []) if (this.#db.prepare(SQL.isHeld).get([id]) === undefined) return nothing('conflict');
      for (const id of unit.releases ?? []) this.#db.prepare(SQL.releaseArtifact).run([id]);
      const log = new UnitLog();
      for (let i = 0; i < closing.length; i++) this.#closeGate(closing[i]!, unit.closeGates![i]!, unit.now, log);
      for (const write of unit.writes) this.#applyWrite(write, unit.now, log);
      for (const run of unit.runs ?? []) this.#createRun(run, unit.now, log);
      return log.result();
    });
  }

  claim(request: ClaimRequest): ClaimedRun[] {
    assertInteger(request.limit, 'limit', { min: 1 });
    if (request.agents.length === 0) return [];
    const one = request.agents.length === 1;
    const statement = this.#db.prepare(one ? SQL.claimRunsOfAgent : SQL.claimRuns);
    const params = [request.owner, request.now + request.leaseMs, one ? request.agents[0]! : JSON.stringify(request.agents), request.limit];
    // One UPDATE is atomic by itself (it takes the write lock before it reads); the first claim of an
    // owner also records which process it is, in the same transaction.
    const rows = this.#owners.has(request.owner)
      ? statement.all(params)
      : this.#db.transaction(() => {
          this.#db.prepare(SQL.registerOwner).run([request.owner, this.#process.host, this.#process.pid, Date.now()]);
          return statement.all(params);
        });
    this.#owners.add(request.owner);
    return inQueueOrder(rows).map((row) => runRecord(row) as ClaimedRun);
  }

  emit(claim: ClaimRef, outputs: readonly OutputWrite[], now: number): UnitResult {
    checkWrites(outputs);
    return this.#db.transaction(() => {
      const held = this.#held(claim);
      if (held === undefined) return nothing('lost');
      if (held.workflow_state === 'cancelled') return nothing('cancelled');
      const log = new UnitLog();
      const record = this.#db.prepare(SQL.recordOutput);
      let applied = 0;
      for (const output of outputs) {
        if (record.run([claim.runId, output.index]).changes === 0) log.duplicates++;
        else {
          this.#applyWrite(output, now, log);
          applied++;
        }
      }
      if (applied > 0 && held.has_outputs === 0) this.#db.prepare(SQL.markHasOutputs).run([held.seq as number]);
      return log.result();
    });
  }

  complete(claim: ClaimRef, completion: Completion, now: number): UnitResult {
    checkCompletion(completion);
    return this.#db.transaction(() => this.#complete(claim, completion, now));
  }

  /**
   * Ends several claimed runs in one transaction (one commit), each item guarded by its own claim and
   * applied all or nothing by itself: a lost claim, or an item that fails, leaves the others applied.
   * Answers each item's result in order (see `completeBatch` in store/batch-completion.ts for the savepoint fallback).
   */
  completeMany(items: readonly CompletionItem[], now: number): PromiseSettledResult<UnitResult>[] {
    const db = this.#db;
    // Every step answers synchronously, so the batch does too.
    return completeBatch<void>(items, {
      check: (item) => checkCompletion(item.completion),
      transaction: (work) => db.transaction(() => work()),
      complete: (_, item) => this.#complete(item.claim, item.completion, now),
      savepoint: () => db.prepare(SQL.savepoint).run(),
      release: () => db.prepare(SQL.releaseSavepoint).run(),
      rollbackTo: () => {
        db.prepare(SQL.rollbackToSavepoint).run();
        db.prepare(SQL.releaseSavepoint).run();
      },
    }) as PromiseSettledResult<UnitResult>[];
  }

  /** One completion, inside a transaction. */
  #complete(claim: ClaimRef, completion: Completion, now: number): UnitResult {
    if (completion.outcome === 'released') {
      const held = this.#held(claim);
      if (held === undefined) return nothing('lost');
      this.#db.prepare(SQL.releaseRun).run([held.seq as number]);
      return nothing('applied');
    }
    // The guard and the end of the run in one statement: the rest of the unit is rolled back with it if it fails.
    const held = this.#db.prepare(SQL.endHeldRun).get([claim.runId, claim.owner, claim.attempt]);
    if (held === undefined) return nothing('lost');
    const cancelled = held.workflow_state === 'cancelled';
    const log = new UnitLog();
    if (completion.outcome === 'finished') {
      if (!cancelled) this.#applyOutputs(claim.runId, held.has_outputs !== 0, completion.outputs, now, log);
    } else if (completion.outcome === 'failed') {
      if (!cancelled) this.#applyWrite(completion.fact, now, log);
      const letter = completion.deadLetter;
      this.#db.prepare(SQL.putDeadLetter).run([letter.id, letter.run.agent, letter.run.correlationId, JSON.stringify(letter)]);
    }
    if (held.has_outputs !== 0) this.#db.prepare(SQL.forgetOutputs).run([claim.runId]);
    return log.result(cancelled && completion.outcome !== 'cancelled' ? 'cancelled' : 'applied');
  }

  renewLeases(owner: string, runIds: readonly string[], leaseMs: number, now: number): string[] {
    if (runIds.length === 0) return [];
    return this.#db.transaction(() => {
      const renew = this.#db.prepare(SQL.renewLease);
      return runIds.filter((id) => renew.run([now + leaseMs, id, owner]).changes === 0);
    });
  }

  /**
   * Puts running runs whose lease expired back in their queues (or, with `owner`, every run of that
   * owner). Without `owner`, it also requeues the runs of owners that were claiming from a process of
   * this host that no longer exists, whatever their leases: a board restarted after a crash gets its
   * work back at once.
   */
  requeueExpired(now: number, options?: { readonly owner?: string }): RunRecord[] {
    return this.#db.transaction(() => {
      if (options?.owner !== undefined) return inQueueOrder(this.#db.prepare(SQL.requeueOwner).all([options.owner])).map(runRecord);
      const rows = this.#db.prepare(SQL.requeueExpired).all([now]);
      for (const owner of this.#db.prepare(SQL.busyOwners).all()) {
        if (mayBeAlive({ host: owner.host as string, pid: owner.pid as number }, this.#process)) continue;
        rows.push(...this.#db.prepare(SQL.requeueOwner).all([owner.owner as string]));
      }
      this.#db.prepare(SQL.forgetIdleOwners).run();
      return inQueueOrder(rows).map(runRecord);
    });
  }

  dueGates(now: number, limit: number): GateState[] {
    return this.#db.prepare(SQL.dueGates).all([now, limit]).map((row) => JSON.parse(row.body as string) as GateState);
  }

  nextDeadline(): number | undefined {
    const row = this.#db.prepare(SQL.nextDeadline).get();
    const gates = (row?.gates as number | null | undefined) ?? undefined;
    const embargoes = (row?.embargoes as number | null | undefined) ?? undefined;
    return gates === undefined ? embargoes : embargoes === undefined ? gates : Math.min(gates, embargoes);
  }

  dueEmbargoes(now: number, limit: number): Artifact[] {
    return this.#db.prepare(SQL.dueEmbargoes).all([now, limit]).map((row) => JSON.parse(row.body as string) as Artifact);
  }

  setWorkflowState(correlationId: string, state: WorkflowState): WorkflowChange {
    return this.#db.transaction(() => {
      const previous = this.#workflowState(correlationId);
      if (previous === 'cancelled' || previous === state) return { previous, dropped: NO_RUNS };
      if (state === 'active') this.#db.prepare(SQL.activateWorkflow).run([correlationId]);
      else this.#db.prepare(SQL.setWorkflowState).run([correlationId, state]);
      if (state !== 'cancelled') return { previous, dropped: NO_RUNS };
      const dropped = inQueueOrder(this.#db.prepare(SQL.dropQueuedRuns).all([correlationId]));
      for (const run of dropped) this.#db.prepare(SQL.forgetOutputs).run([run.id as string]);
      this.#db.prepare(SQL.dropEmbargoesOf).run([correlationId]);
      for (const { key } of this.#db.prepare(SQL.gateKeysOf).all([correlationId])) {
        const gate = this.#loadGate(key as string)!;
        const before = workflowsIn(gate);
        this.#storeGate(gate, removeWorkflowFromGate(gate, correlationId).state !== undefined, before);
      }
      return { previous, dropped: dropped.map(runRecord) };
    });
  }

  getWorkflowState(correlationId: string): WorkflowState {
    return this.#workflowState(correlationId);
  }

  listWorkflowStates(): { correlationId: string; state: WorkflowState }[] {
    return this.#db.prepare(SQL.listWorkflowStates).all().map((row) => ({ correlationId: row.correlation_id as string, state: row.state as WorkflowState }));
  }

  pending(query?: { readonly correlationId?: string }): Pending {
    const id = query?.correlationId;
    if (id !== undefined) {
      const row = this.#db.prepare(SQL.pendingRunsOf).get([id])!;
      const queued = row.queued as number;
      const paused = row.workflow_state === 'paused';
      return { queued: paused ? 0 : queued, paused: paused ? queued : 0, running: row.running as number, timedGates: row.timed_gates as number };
    }
    const row = this.#db.prepare(SQL.pendingRuns).get()!;
    const paused = row.paused as number;
    return { queued: (row.queued as number) - paused, paused, running: row.running as number, timedGates: row.timed_gates as number };
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  getArtifacts(ids: readonly string[]): (Artifact | undefined)[] {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      const row = this.#db.prepare(SQL.artifactById).get(ids);
      return [row === undefined ? undefined : (JSON.parse(row.body as string) as Artifact)];
    }
    const found = new Map<string, string>();
    for (const row of this.#db.prepare(SQL.artifactsById).all([JSON.stringify(ids)])) found.set(row.id as string, row.body as string);
    return ids.map((id) => {
      const body = found.get(id);
      return body === undefined ? undefined : (JSON.parse(body) as Artifact);
    });
  }

  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Artifact<T>[];
  list(query?: ArtifactQuery): Artifact[];
  list(query?: ArtifactQuery): Artifact[] {
    const { typeName, since, limit } = checkArtifactQuery(query);
    const where: string[] = [];
    const params: (string | number)[] = [];
    const filter = (column: string, op: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} ${op} ?`);
      params.push(value);
    };
    filter('type', '=', typeName);
    filter('correlation_id', '=', query?.correlationId);
    filter('produced_by', '=', query?.producedBy);
    filter('created_at', '>=', since);
    params.push(limit === Infinity ? -1 : limit);
    const sql = `SELECT body FROM artifacts${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    return this.#db.prepare(sql).all(params).map((row) => JSON.parse(row.body as string) as Artifact);
  }

  listRuns(query?: RunQuery): RunRecord[] {
    return this.#db.prepare(SQL.listRuns).all([query?.agent ?? null, query?.correlationId ?? null, query?.state ?? null]).map(runRecord);
  }

  listGates(query?: { readonly correlationId?: string }): GateState[] {
    const rows = query?.correlationId === undefined ? this.#db.prepare(SQL.listGates).all() : this.#db.prepare(SQL.listGatesOf).all([query.correlationId]);
    return rows.map((row) => JSON.parse(row.body as string) as GateState);
  }

  listDeadLetters(query?: DeadLetterQuery): DeadLetter[] {
    const limit = query?.limit ?? -1;
    return this.#db
      .prepare(SQL.listDeadLetters)
      .all([query?.agent ?? null, query?.correlationId ?? null, limit])
      .map((row) => JSON.parse(row.body as string) as DeadLetter);
  }

  admitWorkflow(request: AdmissionRequest): AdmissionAnswer {
    return admitWorkflow(this.#db, request);
  }

  releaseWorkflowAdmission(correlationId: string): boolean {
    return releaseWorkflowAdmission(this.#db, correlationId);
  }

  admittedWorkflows(now: number): number {
    return admittedWorkflows(this.#db, now);
  }

  listValues(namespace: string): StoredValue[] {
    checkValueKey(namespace, 'namespace');
    return this.#db
      .prepare(SQL.listValues)
      .all([namespace])
      .map((row) => ({ key: row.key as string, value: JSON.parse(row.value as string) as unknown }));
  }

  putValue(namespace: string, key: string, value: unknown): void {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    this.#db.prepare(SQL.putValue).run([namespace, key, valueText(value)]);
  }

  deleteValue(namespace: string, key: string): boolean {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    return this.#db.prepare(SQL.deleteValue).get([namespace, key]) !== undefined;
  }

  replayDeadLetter(id: string, run: NewRun, now: number): RunRecord | undefined {
    return this.#db.transaction(() => {
      if (this.#db.prepare(SQL.takeDeadLetter).get([id]) === undefined) return undefined;
      if (this.#workflowState(run.correlationId) === 'cancelled') throw new Error(`workflow ${run.correlationId} was cancelled; its dead letter ${id} cannot be replayed`);
      const log = new UnitLog();
      this.#createRun(run, now, log);
      return log.runs?.[0];
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  registerTimer(definition: TimerDefinition): TimerRecord {
    return this.#db.transaction(() => {
      const stored = this.#db.prepare(TIMER_SQL.timer).get([definition.name]);
      if (stored !== undefined && stored.fingerprint === definition.fingerprint) return timerRecord(stored);
      const row = this.#db.prepare(TIMER_SQL.upsertTimer).get([definition.name, definition.fingerprint, definition.workflow ?? null, definition.firstDueAt ?? null]);
      return timerRecord(row!);
    });
  }

  fireTimer(fire: TimerFire): UnitResult {
    if (fire.write !== undefined) checkWrites([fire.write]);
    return this.#db.transaction(() => {
      const stored = this.#db.prepare(TIMER_SQL.timer).get([fire.name]);
      if (stored === undefined || stored.version !== fire.version) return nothing('conflict');
      if (fire.write !== undefined && this.#workflowState(fire.write.artifact.correlationId) === 'cancelled') return nothing('cancelled');
      this.#db.prepare(TIMER_SQL.moveTimer).run([fire.nextDueAt ?? null, fire.ticks, fire.name, fire.version]);
      const log = new UnitLog();
      if (fire.write !== undefined) this.#applyWrite(fire.write, fire.now, log);
      return log.result();
    });
  }

  dueTimers(names: readonly string[], now: number, limit: number): TimerRecord[] {
    return this.#db.prepare(TIMER_SQL.dueTimers).all([JSON.stringify(names), now, limit]).map(timerRecord);
  }

  nextTimerDue(names: readonly string[]): number | undefined {
    return (this.#db.prepare(TIMER_SQL.nextTimerDue).get([JSON.stringify(names)])?.due as number | null) ?? undefined;
  }

  listTimers(): TimerRecord[] {
    return this.#db.prepare(TIMER_SQL.listTimers).all().map(timerRecord);
  }

  /**
   * Writes a consistent copy of the database to `path` (which must not exist), while boards keep
   * working on it: `VACUUM INTO` reads one snapshot, so the copy holds whole units only.
   *
   * @example
   * ```ts
   * import { SqliteStore } from 'skein/board/sqlite';
   * import { mkdtempSync } from 'node:fs';
   * import { tmpdir } from 'node:os';
   * import { join } from 'node:path';
   * const dir = mkdtempSync(join(tmpdir(), 'skein-'));
   * using store = new SqliteStore({ path: join(dir, 'run.db') });
   * store.backup(join(dir, 'backup.db'));
   * ```
   */
  backup(path: string): void {
    if (typeof path !== 'string' || path === '') throw new TypeError(`backup path must be a file path, got ${JSON.stringify(path)}`);
    this.#db.prepare('VACUUM INTO ?').run([path]);
  }

  /** Closes the database file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Closes the store as {@link close} does, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the store as {@link close} does, for `await using` (the close itself is synchronous). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  // ---------------------------------------------------------------------------------------------
  // Applying writes (always inside a transaction)

  #workflowState(correlationId: string): WorkflowState {
    return (this.#db.prepare(SQL.workflowState).get([correlationId])?.state as WorkflowState | undefined) ?? 'active';
  }

  /** The claimed run, with its workflow's state, if `claim` still holds it. */
  #held(claim: ClaimRef): SqlRow | undefined {
    return this.#db.prepare(SQL.heldRun).get([claim.runId, claim.owner, claim.attempt]);
  }

  /** A completion's outputs, but those an earlier execution of the run applied (`streamed`: it applied some). */
  #applyOutputs(runId: string, streamed: boolean, outputs: readonly OutputWrite[], now: number, log: UnitLog): void {
    const applied = streamed ? new Set(this.#db.prepare(SQL.appliedOutputs).all([runId]).map((row) => row.output_index as number)) : undefined;
    for (const output of outputs) {
      if (applied?.has(output.index) === true) log.duplicates++;
      else this.#applyWrite(output, now, log);
    }
  }

  #applyWrite(write: ArtifactWrite, now: number, log: UnitLog): void {
    if (write.embargoUntil !== undefined) return this.#hold(write.artifact, write.embargoUntil, log);
    this.#storeArtifact(write.artifact);
    for (const run of write.runs) this.#createRun(run, now, log);
    for (const deposit of write.deposits) this.#deposit(deposit, now, log);
  }

  /** Holds `artifact` apart until `until` (its embargo's end); an id stored or held already is an error. */
  #hold(artifact: Artifact, until: number, log: UnitLog): void {
    if (this.#db.prepare(SQL.artifactExists).get([artifact.id]) !== undefined) throw new Error(`an artifact with id ${artifact.id} is already stored`);
    try {
      this.#db.prepare(SQL.holdArtifact).run([artifact.id, artifact.correlationId, until, JSON.stringify(artifact)]);
    } catch (error) {
      if (this.#db.prepare(SQL.isHeld).get([artifact.id]) !== undefined) throw new Error(`an artifact with id ${artifact.id} is already stored (held under an embargo)`, { cause: error });
      throw error;
    }
    log.deadlineSet(until);
  }

    #storeArtifact(artifact: Artifact): void {
    try {
      this.#db.prepare(SQL.insertArtifact).run([artifact.id, artifact.type, artifact.correlationId, artifact.producedBy, artifact.createdAt, JSON.stringify(artifact)]);
    } catch (error) {
      if (this.#db.prepare(SQL.artifactExists).get([artifact.id]) !== undefined) throw new Error(`an artifact with id ${artifact.id} is already stored`, { cause: error });
      throw error;
    }
  }

  #createRun(run: NewRun, now: number, log: UnitLog): void {
    if (run.runLimit !== undefined && !this.#countRun(run, log)) return;
    this.#db.prepare(SQL.insertRun).run([run.id, run.agent, run.subscription, JSON.stringify(run.inputIds), run.correlationId, now, run.replayOf ?? null]);
    (log.runs ??= []).push(queuedRun(run, now));
  }

  /** Counts a run against its workflow's limit for the agent; false (and a report) when the limit is reached. */
  #countRun(run: NewRun, log: UnitLog): boolean {
    const limit = run.runLimit!;
    if (limit >= 1 && this.#db.prepare(SQL.countRun).get([run.correlationId, run.agent, limit]) !== undefined) return true;
    this.#db.prepare(SQL.ensureRunCounter).run([run.correlationId, run.agent]);
    const reported = this.#db.prepare(SQL.limitReported).get([run.correlationId, run.agent])!.reported !== 0;
    if (!reported) this.#db.prepare(SQL.markLimitReported).run([run.correlationId, run.agent]);
    (log.limited ??= []).push({ agent: run.agent, correlationId: run.correlationId, limit, inputIds: run.inputIds, first: !reported });
    return false;
  }

  /** The gate's state, open or emptied (a gate row is never deleted). */
  #loadGate(key: string): GateState | undefined {
    const row = this.#db.prepare(SQL.gateByKey).get([key]);
    return row === undefined ? undefined : (JSON.parse(row.body as string) as GateState);
  }

  #deposit(deposit: GateDeposit, now: number, log: UnitLog): void {
    const gate = this.#loadGate(deposit.key) ?? openGate(deposit);
    const before = workflowsIn(gate);
    const transition = depositIntoGate(gate, deposit, now);
    this.#storeGate(gate, transition.state !== undefined, before, log);
    for (const group of transition.groups) {
      // A join feeding a batch: the group enters the batch instead of making a run.
      if (deposit.thenBatch !== undefined) this.#deposit(batchDepositOf(deposit, group), now, log);
      else this.#createRun(groupRun(deposit, group), now, log);
    }
  }

  #closeGate(gate: GateState, close: GateClose, now: number, log: UnitLog): void {
    const before = workflowsIn(gate);
    this.#storeGate(gate, expireGate(gate, now).state !== undefined, before, log);
    if (close.run !== undefined) this.#createRun(close.run, now, log);
  }

  /**
   * Writes a gate back (the gate logic changed it in place) and keeps `gate_workflows` in step. An
   * emptied gate keeps its row, closed, so that its version goes on growing if it opens again.
   */
  #storeGate(gate: GateState, open: boolean, before: ReadonlySet<string>, log?: UnitLog): void {
    const after = open ? workflowsIn(gate) : NO_WORKFLOWS;
    const deadline = open ? gate.deadline : undefined;
    this.#db.prepare(SQL.upsertGate).run([gate.key, JSON.stringify(cloneGate(gate)), open ? 1 : 0, deadline ?? null, gate.version]);
    if (deadline !== undefined) log?.deadlineSet(deadline);
    for (const id of before) if (!after.has(id)) this.#db.prepare(SQL.removeGateWorkflow).run([id, gate.key]);
    for (const id of after) if (!before.has(id)) this.#db.prepare(SQL.addGateWorkflow).run([id, gate.key]);
  }
}
