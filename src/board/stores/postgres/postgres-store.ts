/**
 * The PostgreSQL store: many workers on many machines share one board. Every unit of the contract is
 * one transaction; claims take queued runs with `FOR UPDATE SKIP LOCKED`, so concurrent workers never
 * wait for each other nor take the same run; completions are guarded by (owner, attempt) on the run's
 * locked row, so a worker that lost its lease changes nothing; outputs are recorded by (run, index),
 * so a run executed again never applies one twice; gate rows are locked (in key order) by the units
 * that touch them. Units that queue runs `NOTIFY` the workers listening (see `onNotice`), a hint only:
 * workers poll as well, so a lost notification costs latency, never work.
 */
import type { Artifact, ArtifactTypeOf } from '../../artifact.js';
import { assertInteger, assertOptions } from '../../../core/validate.js';
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
  NewRun,
  OutputWrite,
  Pending,
  PublishUnit,
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
import { removeWorkflowFromGate, type GateState } from '../../store/gate-state.js';
import { poolFor, type PostgresClient, type PostgresPool } from './connection.js';
import { migrate, quoteSchema } from './migrations.js';
import { holdingWorkflow, runFromRow, toNumber, type RunRow } from './rows.js';
import { compileStatements, type Statements } from './statements.js';
import { inTransaction, Rollback } from './transaction.js';
import { gateKeysOf, nothing, UnitLog, UnitWriter } from './unit-writer.js';
import { WakeListener, type StoreNotice } from './wake-listener.js';
import { admissionStatements, admitWorkflow, type AdmissionStatements } from './admission.js';

/**
 * Options of {@link PostgresStore.open}: a connection string or your own pool, and a schema.
 *
 * @example
 * ```ts no-run
 * import { PostgresStore } from 'skein/board/postgres';
 * const store = await PostgresStore.open({ connectionString: 'postgres://app@db/app', schema: 'orders_board', poolSize: 6 });
 * ```
 */
export interface PostgresStoreOptions {
  /** Where to connect; the store opens (and closes) a pool of `poolSize` connections. */
  readonly connectionString?: string;
  /** Your own `pg.Pool` (or any pool of the same shape); the store never ends it. */
  readonly pool?: PostgresPool;
  /** The schema holding the board's tables, created and migrated on open. Default `skein`. */
  readonly schema?: string;
  /** Connections of the pool the store opens for `connectionString` (one more is held to listen). Default 4. */
  readonly poolSize?: number;
  /** Skip the migrations on open (when a deploy step runs {@link migrate} alone). Default false. */
  readonly skipMigrations?: boolean;
}

/** A row of the timers table, as the driver answers it (bigint as a string). */
interface TimerRow {
  name: string;
  fingerprint: string;
  workflow: string | null;
  next_due_at: unknown;
  ticks: number;
  version: number;
}

function timerFromRow(row: TimerRow): TimerRecord {
  return { name: row.name, fingerprint: row.fingerprint, workflow: row.workflow ?? undefined, nextDueAt: toNumber(row.next_due_at), ticks: row.ticks, version: row.version };
}

/**
 * A board store in PostgreSQL, shared by every worker that opens the same schema.
 *
 * @example
 * ```ts no-run
 * import { Board } from 'skein/board';
 * import { PostgresStore } from 'skein/board/postgres';
 * await using store = await PostgresStore.open({ connectionString: process.env.DATABASE_URL });
 * const board = new Board({ store });
 * ```
 */
export class PostgresStore implements BoardStore {
  /** Completions are worth grouping: a commit is a round trip and a WAL flush (see {@link BoardStore.groupCommit}). */
  readonly groupCommit = true;
  /** The schema this store uses. */
  readonly schema: string;
  readonly #pool: PostgresPool;
  readonly #ownsPool: boolean;
  readonly #sql: Statements;
  /** The NOTIFY channel of this schema. */
  readonly #channel: string;
  readonly #listener: WakeListener;
  readonly #admission: AdmissionStatements;
  /** The inputs of the runs claimed last, which their workers read next (artifacts never change). */
  readonly #inputs = new RecentArtifacts(1024);
  #closed = false;

  private constructor(pool: PostgresPool, ownsPool: boolean, schema: string) {
    this.schema = schema;
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    const quoted = quoteSchema(schema);
    this.#sql = compileStatements(quoted);
    this.#admission = admissionStatements(quoted, schema);
    this.#channel = `skein:${schema}`;
    this.#listener = new WakeListener(pool, this.#channel);
  }

  /**
   * Connects, applies the schema's pending migrations (under an advisory lock, so workers starting
   * together do not race) and answers the store.
   *
   * @example
   * ```ts no-run
   * const store = await PostgresStore.open({ connectionString: 'postgres://postgres@127.0.0.1/test', schema: 'skein' });
   * await store.close();
   * ```
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    assertOptions(options);
    if (options === undefined || (options.connectionString === undefined) === (options.pool === undefined)) {
      throw new TypeError('PostgresStore.open needs exactly one of connectionString and pool');
    }
    if (options.connectionString !== undefined && typeof options.connectionString !== 'string') {
      throw new TypeError('connectionString must be a string');
    }
    const schema = options.schema ?? 'skein';
    quoteSchema(schema);
    if (options.poolSize !== undefined) assertInteger(options.poolSize, 'poolSize', { min: 1 });
    const pool = options.pool ?? (await poolFor(options.connectionString!, options.poolSize ?? 4));
    try {
      if (options.skipMigrations !== true) await migrate(pool, schema);
    } catch (error) {
      if (options.pool === undefined) await pool.end();
      throw error;
    }
    return new PostgresStore(pool, options.pool === undefined, schema);
  }

  /**
   * Calls `listener` with every notice other units of this schema send (runs queued, workflow states
   * changed), over one dedicated connection opened on the first subscription. Answers the unsubscribe.
   * Notices are hints: a worker polls as well.
   *
   * @example
   * ```ts no-run
   * const stop = await store.onNotice((notice) => { if (notice.kind === 'runs') wakeDispatcher(notice.agents); });
   * stop();
   * ```
   */
  async onNotice(listener: (notice: StoreNotice) => void): Promise<() => void> {
    if (this.#closed) throw new Error('this PostgresStore is closed');
    return this.#listener.subscribe(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Units

  async publish(unit: PublishUnit): Promise<UnitResult> {
    checkWrites(unit.writes);
    return this.#unit(async (client) => {
      const correlationIds = [...unit.writes.map((write) => write.artifact.correlationId), ...(unit.runs ?? []).map((run) => run.correlationId)];
      const closes = unit.closeGates ?? [];
      // Without closes, the write itself checks for a cancelled workflow (one round trip fewer); a
      // close's version check must not answer `conflict` for a cancelled workflow, so it checks first.
      const guarded = closes.length === 0 ? await this.#shareWorkflows(client, correlationIds) : [];
      if (closes.length > 0 && (await this.#anyCancelled(client, correlationIds))) throw new Rollback(nothing('cancelled'));
      const releases = unit.releases ?? [];
      if (releases.length > 0) {
        const released = await client.query(this.#sql.releaseArtifacts([...releases]));
        if (released.rows.length !== new Set(releases).size) throw new Rollback(nothing('conflict'));
      }
      const writer = new UnitWriter(client, this.#sql, this.#channel, unit.now);
      if (closes.length > 0) {
        const gates = await writer.lockGates(closes.map((close) => close.key));
        for (const close of closes) if (gates.get(close.key)?.version !== close.version) throw new Rollback(nothing('conflict'));
      }
      await writer.apply(unit.writes, closes);
      writer.schedule(unit.runs ?? []);
      return writer.flush(NONE, guarded);
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimedRun[]> {
    assertInteger(request.limit, 'limit', { min: 1 });
    if (request.agents.length === 0) return [];
    const client = await this.#pool.connect();
    try {
      const agents = request.agents.length === 1 ? request.agents[0] : [...request.agents];
      const claim = request.agents.length === 1 ? this.#sql.claimRuns : this.#sql.claimRunsOfAgents;
      const { rows } = await client.query(claim(agents, request.limit, request.owner, request.now + request.leaseMs));
      for (const row of rows as { inputs: Artifact[] | null }[]) for (const input of row.inputs ?? []) this.#inputs.keep(input);
      return (rows as RunRow[]).sort(byQueuePosition).map((row) => runFromRow(row) as ClaimedRun);
    } finally {
      client.release();
    }
  }

  async emit(claim: ClaimRef, outputs: readonly OutputWrite[], now: number): Promise<UnitResult> {
    checkWrites(outputs);
    return this.#unit(async (client) => {
      const run = await this.#held(client, claim, outputs);
      if (run === undefined) throw new Rollback(nothing('lost'));
      const writer = new UnitWriter(client, this.#sql, this.#channel, now);
      const fresh = await this.#fresh(client, run, outputs, writer);
      if (fresh === 'cancelled') throw new Rollback(nothing('cancelled'));
      await writer.apply(fresh);
      return writer.flush();
    });
  }

  async complete(claim: ClaimRef, completion: Completion, now: number): Promise<UnitResult> {
    checkWrites(writesOf(completion));
    return this.#unit(async (client) => {
      const [result] = await this.#completeAll(client, [{ claim, completion }], now);
      // A lost claim changes nothing: roll back (the claim check took a lock, nothing else).
      if (result!.status === 'lost') throw new Rollback(result);
      return result!;
    });
  }

  /**
   * Ends several claimed runs in one transaction (one commit, one flush to the WAL), each item guarded
   * by its own claim and applied all or nothing by itself (see `completeBatch` in store/batch-completion.ts for the savepoint
   * fallback). Notifications of the items are sent once each at commit (PostgreSQL folds repeats).
   */
  async completeMany(items: readonly CompletionItem[], now: number): Promise<PromiseSettledResult<UnitResult>[]> {
    return completeBatch<PostgresClient>(items, {
      check: (item) => checkWrites(writesOf(item.completion)),
      transaction: (work) => this.#unit(async (client) => work(client)),
      complete: (client, item) => this.#completeIn(client, item.claim, item.completion, now),
      completeAll: (client, all) => this.#completeAll(client, all, now),
      savepoint: (client) => client.query({ text: 'savepoint skein_item' }),
      release: (client) => client.query({ text: 'release savepoint skein_item' }),
      rollbackTo: (client) => client.query({ text: 'rollback to savepoint skein_item' }),
      fatal: (error) => RETRYABLE.has((error as { code?: string }).code ?? ''),
    });
  }

  /** One completion inside a transaction; `lost` (nothing written) when the claim no longer holds. */
  async #completeIn(client: PostgresClient, claim: ClaimRef, completion: Completion, now: number): Promise<UnitResult> {
    const writes = writesOf(completion);
    const run = await this.#held(client, claim, writes);
    if (run === undefined) return nothing('lost');
    if (completion.outcome === 'released') {
      await client.query(this.#sql.releaseRun(run.id));
      await client.query(this.#sql.notify(this.#channel, `runs:${run.agent}`));
      return nothing('applied');
    }
    const writer = new UnitWriter(client, this.#sql, this.#channel, now);
    // Outputs are recorded by (run, index); a failure's fact is not an output (its unit ends the run).
    const fresh = await this.#fresh(client, run, completion.outcome === 'finished' ? completion.outputs : [], writer);
    const cancelled = fresh === 'cancelled';
    if (!cancelled) await writer.apply(completion.outcome === 'failed' ? [completion.fact] : fresh);
    if (completion.outcome === 'failed') {
      const letter = completion.deadLetter;
      await client.query(this.#sql.insertDeadLetter(letter.id, letter.run.agent, letter.run.correlationId, JSON.stringify(letter)));
    }
    const result = await writer.flush([run.id]);
    return cancelled && completion.outcome !== 'cancelled' ? { ...result, status: 'cancelled' } : result;
  }

  /**
   * Every item of a batch in a few set-based statements, whatever their number: one guard for all the
   * runs, one statement recording all their outputs (and reading which workflows are cancelled), the
   * gates all of them touch locked at once, and one statement writing every artifact, queued run and
   * run end. Items are applied in order, so a later item sees an earlier one's deposits and counts.
   * Answers the same results as {@link #completeIn} on each in turn.
   */
  async #completeAll(client: PostgresClient, items: readonly CompletionItem[], now: number): Promise<UnitResult[]> {
    const ids = items.map((item) => item.claim.runId);
    if (new Set(ids).size !== ids.length) throw new Error('a batch of completions names a run twice');
    const guard = this.#sql.heldRuns(ids, items.map((item) => item.claim.owner), items.map((item) => item.claim.attempt), this.schema);
    const held = new Map((await client.query(guard)).rows.map((row) => [(row as RunRow).id, runFromRow(row as RunRow)]));
    const own = new Set([...held.values()].map((run) => run.correlationId));
    const others = new Set<string>();
    const outputRuns: string[] = [];
    const workflows = new Set(own);
    for (const { claim, completion } of items) {
      if (!held.has(claim.runId)) continue;
      for (const write of writesOf(completion)) if (!own.has(write.artifact.correlationId)) others.add(write.artifact.correlationId);
      if (completion.outcome !== 'finished' || completion.outputs.length === 0) continue;
      outputRuns.push(claim.runId);
      for (const output of completion.outputs) workflows.add(output.artifact.correlationId);
    }
    if (others.size > 0) await client.query(this.#sql.shareWorkflows([...others].sort(), this.schema));
    const { rows } = await client.query(this.#sql.appliedOutputs(outputRuns, [...workflows]));
    const appliedRow = rows[0] as { cancelled: string[]; applied: [string, number][] };
    const cancelled = new Set(appliedRow.cancelled);
    // An output is fresh unless applied already (or named twice by its completion).
    const applied = new Set(appliedRow.applied.map(([runId, index]) => `${runId}\u0000${index}`));
    const fresh = (runId: string, index: number): boolean => {
      const key = `${runId}\u0000${index}`;
      if (applied.has(key)) return false;
      applied.add(key);
      return true;
    };
    const writer = new UnitWriter(client, this.#sql, this.#channel, now);
    const plans: ({ run: RunRecord; completion: Completion; log: UnitLog; writes: readonly ArtifactWrite[]; cancelled: boolean } | undefined)[] = [];
    const ended: string[] = [];
    for (const { claim, completion } of items) {
      const run = held.get(claim.runId);
      if (run === undefined || completion.outcome === 'released') {
        plans.push(undefined);
        continue;
      }
      const log = new UnitLog();
      const outputs = completion.outcome === 'finished' ? completion.outputs : [];
      const isCancelled = cancelled.has(run.correlationId) || outputs.some((output) => cancelled.has(output.artifact.correlationId));
      let writes: readonly ArtifactWrite[] = [];
      if (!isCancelled && completion.outcome === 'failed') writes = [completion.fact];
      else if (!isCancelled) {
        writes = outputs.filter((output) => fresh(run.id, output.index));
        log.duplicates = outputs.length - writes.length;
      }
      plans.push({ run, completion, log, writes, cancelled: isCancelled });
      ended.push(run.id);
    }
    await writer.lockGates(plans.flatMap((plan) => (plan === undefined ? [] : gateKeysOf(plan.writes))));
    for (const plan of plans) if (plan !== undefined) await writer.apply(plan.writes, undefined, plan.log);
    const letters = plans.flatMap((plan) => (plan?.completion.outcome === 'failed' ? [plan.completion.deadLetter] : []));
    if (letters.length > 0) {
      await client.query(
        this.#sql.insertDeadLetters(
          letters.map((letter) => letter.id),
          letters.map((letter) => letter.run.agent),
          letters.map((letter) => letter.run.correlationId),
          letters.map((letter) => JSON.stringify(letter)),
        ),
      );
    }
    await writer.flush(ended);
    const results: UnitResult[] = [];
    for (let k = 0; k < items.length; k++) {
      const plan = plans[k];
      const run = held.get(items[k]!.claim.runId);
      if (run === undefined) results.push(nothing('lost'));
      else if (plan === undefined) {
        await client.query(this.#sql.releaseRun(run.id));
        await client.query(this.#sql.notify(this.#channel, `runs:${run.agent}`));
        results.push(nothing('applied'));
      } else results.push(plan.log.result(plan.cancelled && plan.completion.outcome !== 'cancelled' ? 'cancelled' : 'applied'));
    }
    return results;
  }

  async renewLeases(owner: string, runIds: readonly string[], leaseMs: number, now: number): Promise<string[]> {
    if (runIds.length === 0) return [];
    const { rows } = await this.#query(this.#sql.renewLeases(owner, [...runIds], now + leaseMs));
    const held = new Set((rows as { id: string }[]).map((row) => row.id));
    return runIds.filter((id) => !held.has(id));
  }

  async requeueExpired(now: number, options?: { readonly owner?: string }): Promise<RunRecord[]> {
    const query = options?.owner !== undefined ? this.#sql.requeueOwner(options.owner, this.#channel) : this.#sql.requeueExpired(now, this.#channel);
    const { rows } = await this.#query(query);
    return (rows as RunRow[]).map(runFromRow);
  }

  async dueGates(now: number, limit: number): Promise<GateState[]> {
    const { rows } = await this.#query(this.#sql.dueGates(now, limit));
    return (rows as { state: GateState }[]).map((row) => row.state);
  }

  async nextDeadline(): Promise<number | undefined> {
    const { rows } = await this.#query(this.#sql.nextDeadline());
    return toNumber((rows[0] as { deadline: unknown }).deadline);
  }

  async dueEmbargoes(now: number, limit: number): Promise<Artifact[]> {
    const { rows } = await this.#query(this.#sql.dueEmbargoes(now, limit));
    return (rows as { body: Artifact }[]).map((row) => row.body);
  }

  async setWorkflowState(correlationId: string, state: WorkflowState): Promise<WorkflowChange> {
    return this.#unit(async (client) => {
      await client.query(this.#sql.lockWorkflow(correlationId, this.schema));
      const previous = await this.#workflowState(client, correlationId);
      if (previous === 'cancelled' || previous === state) return { previous, dropped: [] };
      await client.query(state === 'active' ? this.#sql.activateWorkflow(correlationId) : this.#sql.setWorkflowState(correlationId, state));
      await client.query(this.#sql.notify(this.#channel, `workflow:${state}:${correlationId}`));
      if (state !== 'cancelled') return { previous, dropped: [] };
      const { rows } = await client.query(this.#sql.dropQueuedRuns(correlationId));
      await client.query(this.#sql.dropEmbargoesOf(correlationId));
      const gates = await client.query(this.#sql.lockGatesOfWorkflow(holdingWorkflow(correlationId)));
      const writer = new UnitWriter(client, this.#sql, this.#channel, 0);
      for (const row of gates.rows as { key: string; state: GateState }[]) {
        writer.setGate(row.key, removeWorkflowFromGate(row.state, correlationId).state);
      }
      await writer.flush();
      return { previous, dropped: (rows as RunRow[]).map(runFromRow) };
    });
  }

  async getWorkflowState(correlationId: string): Promise<WorkflowState> {
    const client = await this.#pool.connect();
    try {
      return await this.#workflowState(client, correlationId);
    } finally {
      client.release();
    }
  }

  async listWorkflowStates(): Promise<{ correlationId: string; state: WorkflowState }[]> {
    const { rows } = await this.#query(this.#sql.listWorkflowStates());
    return (rows as { correlation_id: string; state: WorkflowState }[]).map((row) => ({ correlationId: row.correlation_id, state: row.state }));
  }

  async pending(query?: { readonly correlationId?: string }): Promise<Pending> {
    const id = query?.correlationId;
    const { rows } = await this.#query(id === undefined ? this.#sql.pending() : this.#sql.pendingOfWorkflow(id, holdingWorkflow(id)));
    const row = rows[0] as Record<'queued' | 'paused' | 'running' | 'timed_gates', string>;
    return { queued: Number(row.queued), paused: Number(row.paused), running: Number(row.running), timedGates: Number(row.timed_gates) };
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  async getArtifacts(ids: readonly string[]): Promise<(Artifact | undefined)[]> {
    if (ids.length === 0) return [];
    const known = this.#inputs.all(ids);
    if (known !== undefined) return known;
    const { rows } = await this.#query(this.#sql.getArtifacts([...ids]));
    const byId = new Map((rows as { id: string; body: Artifact }[]).map((row) => [row.id, row.body]));
    return ids.map((id) => byId.get(id));
  }

  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Promise<Artifact<T>[]>;
  list(query?: ArtifactQuery): Promise<Artifact[]>;
  async list(query?: ArtifactQuery): Promise<Artifact[]> {
    const { typeName, since, limit } = checkArtifactQuery(query);
    const { rows } = await this.#query(
      this.#sql.listArtifacts(typeName ?? null, query?.correlationId ?? null, query?.producedBy ?? null, since ?? null, limit === Infinity ? null : limit),
    );
    return (rows as { body: Artifact }[]).map((row) => row.body);
  }

  async listRuns(query?: RunQuery): Promise<RunRecord[]> {
    const { rows } = await this.#query(this.#sql.listRuns(query?.agent ?? null, query?.correlationId ?? null, query?.state ?? null));
    return (rows as RunRow[]).map(runFromRow);
  }

  async listGates(query?: { readonly correlationId?: string }): Promise<GateState[]> {
    const id = query?.correlationId;
    const { rows } = await this.#query(this.#sql.listGates(id === undefined ? null : holdingWorkflow(id)));
    return (rows as { state: GateState }[]).map((row) => row.state);
  }

  async listDeadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    const { rows } = await this.#query(this.#sql.listDeadLetters(query?.agent ?? null, query?.correlationId ?? null, query?.limit ?? null));
    return (rows as { body: DeadLetter }[]).map((row) => row.body);
  }

  admitWorkflow(request: AdmissionRequest): Promise<AdmissionAnswer> {
    return this.#unit((client) => admitWorkflow(client, this.#admission, request));
  }

  async releaseWorkflowAdmission(correlationId: string): Promise<boolean> {
    const { rows } = await this.#query(this.#admission.givePlaceBack(correlationId));
    return rows.length > 0;
  }

  async admittedWorkflows(now: number): Promise<number> {
    const { rows } = await this.#query(this.#admission.countActive(now));
    return Number((rows[0] as { active: string }).active);
  }

  async listValues(namespace: string): Promise<StoredValue[]> {
    checkValueKey(namespace, 'namespace');
    const { rows } = await this.#query(this.#sql.listValues(namespace));
    return (rows as { key: string; value: unknown }[]).map((row) => ({ key: row.key, value: row.value }));
  }

  async putValue(namespace: string, key: string, value: unknown): Promise<void> {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    await this.#query(this.#sql.putValue(namespace, key, valueText(value)));
  }

  async deleteValue(namespace: string, key: string): Promise<boolean> {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    const { rows } = await this.#query(this.#sql.deleteValue(namespace, key));
    return rows.length > 0;
  }

  async replayDeadLetter(id: string, run: NewRun, now: number): Promise<RunRecord | undefined> {
    return this.#unit(async (client) => {
      const { rows } = await client.query(this.#sql.takeDeadLetter(id));
      if (rows.length === 0) return undefined;
      if (await this.#anyCancelled(client, [run.correlationId])) {
        throw new Error(`workflow ${run.correlationId} was cancelled; its dead letter ${id} cannot be replayed`);
      }
      const writer = new UnitWriter(client, this.#sql, this.#channel, now);
      writer.schedule([run]);
      return (await writer.flush()).runs[0];
    });
  }

  /** Stops listening and, when the store opened the pool, ends it. */
  // ---------------------------------------------------------------------------------------------
  // Timers

  async registerTimer(definition: TimerDefinition): Promise<TimerRecord> {
    return this.#unit(async (client) => {
      const upserted = await client.query(this.#sql.upsertTimer(definition.name, definition.fingerprint, definition.workflow ?? null, definition.firstDueAt ?? null));
      if (upserted.rows.length > 0) return timerFromRow(upserted.rows[0] as TimerRow);
      const { rows } = await client.query(this.#sql.timer(definition.name));
      return timerFromRow(rows[0] as TimerRow);
    });
  }

  async fireTimer(fire: TimerFire): Promise<UnitResult> {
    if (fire.write !== undefined) checkWrites([fire.write]);
    return this.#unit(async (client) => {
      if (fire.write !== undefined && (await this.#anyCancelled(client, [fire.write.artifact.correlationId]))) throw new Rollback(nothing('cancelled'));
      // The row lock: a concurrent fire of the same timer waits here, then finds the version moved.
      const moved = await client.query(this.#sql.moveTimer(fire.nextDueAt ?? null, fire.ticks, fire.name, fire.version));
      if (moved.rows.length === 0) throw new Rollback(nothing('conflict'));
      const writer = new UnitWriter(client, this.#sql, this.#channel, fire.now);
      if (fire.write !== undefined) await writer.apply([fire.write]);
      return writer.flush();
    });
  }

  async dueTimers(names: readonly string[], now: number, limit: number): Promise<TimerRecord[]> {
    const { rows } = await this.#query(this.#sql.dueTimers(names, now, limit));
    return (rows as TimerRow[]).map(timerFromRow);
  }

  async nextTimerDue(names: readonly string[]): Promise<number | undefined> {
    const { rows } = await this.#query(this.#sql.nextTimerDue(names));
    return toNumber((rows[0] as { due: unknown }).due);
  }

  async listTimers(): Promise<TimerRecord[]> {
    const { rows } = await this.#query(this.#sql.listTimers());
    return (rows as TimerRow[]).map(timerFromRow);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener.close();
    if (this.#ownsPool) await this.#pool.end();
  }

  /** Closes the store as {@link close} does, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------

  #unit<T>(work: (client: PostgresClient) => Promise<T>): Promise<T> {
    return inTransaction(this.#pool, work);
  }

  async #query(query: ReturnType<Statements[keyof Statements]>): Promise<{ rows: unknown[] }> {
    const client = await this.#pool.connect();
    try {
      return await client.query(query);
    } finally {
      client.release();
    }
  }

  /**
   * The run if the claim still holds it (locked, with a shared lock on its workflow), and shared locks
   * on the other workflows `writes` go to.
   */
  async #held(client: PostgresClient, claim: ClaimRef, writes: readonly ArtifactWrite[]): Promise<RunRecord | undefined> {
    const { rows } = await client.query(this.#sql.heldRun(claim.runId, claim.owner, claim.attempt, this.schema));
    if (rows.length === 0) return undefined;
    const run = runFromRow(rows[0] as RunRow);
    const others = [...new Set(writes.map((write) => write.artifact.correlationId))].filter((id) => id !== run.correlationId).sort();
    if (others.length > 0) await client.query(this.#sql.shareWorkflows(others, this.schema));
    return run;
  }

  /** Takes shared locks on the workflows written into, then answers whether one of them is cancelled. */
  async #anyCancelled(client: PostgresClient, correlationIds: readonly string[]): Promise<boolean> {
    const sorted = await this.#shareWorkflows(client, correlationIds);
    if (sorted.length === 0) return false;
    const { rows } = await client.query(this.#sql.cancelledAmong(sorted));
    return rows.length > 0;
  }

  /** Takes shared locks on the workflows written into (in order); answers them, sorted. */
  async #shareWorkflows(client: PostgresClient, correlationIds: readonly string[]): Promise<string[]> {
    const sorted = [...new Set(correlationIds)].sort();
    if (sorted.length > 0) await client.query(this.#sql.shareWorkflows(sorted, this.schema));
    return sorted;
  }

  async #workflowState(client: PostgresClient, correlationId: string): Promise<WorkflowState> {
    const { rows } = await client.query(this.#sql.workflowState(correlationId));
    return (rows[0] as { state: WorkflowState } | undefined)?.state ?? 'active';
  }

  /**
   * The outputs of `run` not applied by an earlier execution, recorded as applied now; or
   * `'cancelled'` (nothing recorded) when the run's workflow, or one its outputs go to, is cancelled.
   */
  async #fresh(client: PostgresClient, run: RunRecord, outputs: readonly OutputWrite[], writer: UnitWriter): Promise<readonly OutputWrite[] | 'cancelled'> {
    const workflows = [run.correlationId, ...outputs.map((output) => output.artifact.correlationId)];
    const { rows } = await client.query(this.#sql.recordOutputs(run.id, outputs.map((output) => output.index), [...new Set(workflows)]));
    const row = rows[0] as { cancelled: boolean; indexes: number[] };
    if (row.cancelled) return 'cancelled';
    const recorded = new Set(row.indexes);
    const fresh = outputs.filter((output) => recorded.delete(output.index));
    writer.log.duplicates += outputs.length - fresh.length;
    return fresh;
  }
}

const NONE: readonly never[] = Object.freeze([]);

/** The writes a completion makes. */
function writesOf(completion: Completion): readonly ArtifactWrite[] {
  return completion.outcome === 'finished' ? completion.outputs : completion.outcome === 'failed' ? [completion.fact] : [];
}

/** SQLSTATE codes of transactions PostgreSQL aborted, which `inTransaction` runs again whole. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * The last `capacity` artifacts kept, by id: claims keep their runs' inputs here, so that the reads
 * that start the runs answer without a round trip. Stored artifacts never change, so an entry is
 * never stale; the bound keeps large payloads from piling up.
 */
class RecentArtifacts {
  readonly #byId = new Map<string, Artifact>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  keep(artifact: Artifact): void {
    this.#byId.delete(artifact.id);
    this.#byId.set(artifact.id, artifact);
    if (this.#byId.size > this.#capacity) this.#byId.delete(this.#byId.keys().next().value!);
  }

  /** The artifacts of `ids` in order, or undefined when one of them is not kept. */
  all(ids: readonly string[]): Artifact[] | undefined {
    const found: Artifact[] = [];
    for (const id of ids) {
      const artifact = this.#byId.get(id);
      if (artifact === undefined) return undefined;
      found.push(artifact);
    }
    return found;
  }
}

function byQueuePosition(a: RunRow, b: RunRow): number {
  return Number(a.queue_pos) - Number(b.queue_pos);
}
