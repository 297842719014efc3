/**
 * The in-memory store: the default, and the fastest. Every unit of the contract is applied
 * synchronously (no promise), validated in full before anything changes, so a unit that throws
 * leaves the store as it was. Everything lives in this process and is gone when it exits.
 *
 * Retention: by default every artifact is kept. With `maxArtifacts`, only the most recent ones stay
 * listable; an older artifact that a queued or running run or an open gate still needs is kept (by
 * id) until nothing needs it, then dropped. Loop counters and workflow records of quiet workflows
 * are bounded the same way, so a long-running board's memory is bounded.
 */
import { Deque } from '../../flow/deque.js';
import type { Artifact, ArtifactTypeOf } from '../artifact.js';
import { assertInteger, assertOptions } from '../../core/validate.js';
import { checkArtifactQuery } from '../query.js';
import { checkWrites } from '../store/check-writes.js';
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
  StoredValue,
  UnitResult,
  WorkflowChange,
  WorkflowState,
} from '../store/contract.js';
import { checkValueKey, valueText } from '../store/values.js';
import { checkAdmission } from '../store/admission.js';
import { batchDepositOf, cloneGate, depositIntoGate, entriesAt, entryIds, expireGate, groupRun, queuedRun, removeWorkflowFromGate, type GateEntry, type GateState } from '../store/gate-state.js';

/**
 * Options of `new MemoryStore()`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board/store';
 * const store = new MemoryStore({ maxArtifacts: 10_000 }); // bounded memory for a long-running board
 * ```
 */
export interface MemoryStoreOptions {
  /**
   * Keep at most this many artifacts listable (the most recent); older ones are dropped once no run
   * or gate needs them. Also bounds the loop counters kept for quiet workflows. Default: keep all.
   */
  readonly maxArtifacts?: number;
}

/** A run as this store keeps it: one mutable record from creation to its end. */
interface StoredRun {
  readonly id: string;
  readonly agent: string;
  readonly subscription: number;
  readonly inputIds: readonly string[];
  readonly correlationId: string;
  readonly enqueuedAt: number;
  readonly replayOf: string | undefined;
  state: 'queued' | 'running';
  attempt: number;
  owner: string | undefined;
  leaseUntil: number | undefined;
  /** Output indexes already applied, across attempts. */
  applied: Set<number> | undefined;
}

/** Per-workflow counts, kept while the workflow has runs. */
interface WorkflowCounts {
  queued: number;
  running: number;
}

interface LoopCounter {
  count: number;
  reported: boolean;
}

const NO_RUNS: readonly RunRecord[] = Object.freeze([]);
const NO_NEW_RUNS: readonly NewRun[] = Object.freeze([]);
const NO_CLOSES: readonly GateClose[] = Object.freeze([]);
const NO_LIMITS: readonly RunLimitReached[] = Object.freeze([]);

/** A unit's outcome while it is being applied, and then its result (one object per unit). */
class UnitLog implements UnitResult {
  status: UnitResult['status'] = 'applied';
  runs: readonly RunRecord[] = NO_RUNS;
  limited: readonly RunLimitReached[] = NO_LIMITS;
  duplicates = 0;
  nextDeadline: number | undefined = undefined;

  addRun(run: RunRecord): void {
    if (this.runs === NO_RUNS) this.runs = [run];
    else (this.runs as RunRecord[]).push(run);
  }

  addLimit(limit: RunLimitReached): void {
    if (this.limited === NO_LIMITS) this.limited = [limit];
    else (this.limited as RunLimitReached[]).push(limit);
  }

  result(status: UnitResult['status'] = 'applied'): UnitResult {
    this.status = status;
    return this;
  }
}

function nothing(status: UnitResult['status']): UnitResult {
  return { status, runs: NO_RUNS, limited: NO_LIMITS, duplicates: 0, nextDeadline: undefined };
}

/** An artifact held apart until its embargo ends. */
interface Embargoed {
  readonly artifact: Artifact;
  readonly until: number;
}

const NO_IDS: readonly string[] = Object.freeze([]);

/** The entries of `gate` that belong to workflow `correlationId`. */
function holding(gate: GateState, correlationId: string): GateEntry[] {
  const found: GateEntry[] = [];
  for (let i = 0; i < gate.slots.length; i++) for (const entry of entriesAt(gate, i)) if (entry.correlationId === correlationId) found.push(entry);
  return found;
}

/** A copy of `run` to hand out: its record as queued, with its claim as it is now. */
function snapshot(run: StoredRun): RunRecord {
  return { ...queuedRun(run, run.enqueuedAt), state: run.state, attempt: run.attempt, owner: run.owner, leaseUntil: run.leaseUntil };
}

/**
 * Keeps a board's state in memory: one FIFO queue per agent, runs of paused workflows set aside when
 * reached and put back at the head of their queue on resume.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board/store';
 * const store = new MemoryStore();
 * store.pending(); // { queued: 0, paused: 0, running: 0, timedGates: 0 }
 * ```
 */
export class MemoryStore implements BoardStore {
  readonly #maxArtifacts: number;
  /** Listable artifacts, oldest first; and the same per type. */
  readonly #order = new Deque<Artifact>();
  readonly #byType = new Map<string, Deque<Artifact>>();
  readonly #byId = new Map<string, Artifact>();
  /** With retention: how many runs and gate entries need each artifact, and those dropped from the listing but still needed. */
  readonly #pins = new Map<string, number>();
  readonly #evicted = new Set<string>();

  readonly #queues = new Map<string, Deque<StoredRun>>();
  readonly #running = new Map<string, StoredRun>();
  readonly #parked = new Map<string, StoredRun[]>();
  readonly #counts = new Map<string, WorkflowCounts>();
  #queued = 0;

  readonly #states = new Map<string, WorkflowState>();
  readonly #loops = new Map<string, Map<string, LoopCounter>>();
  readonly #gates = new Map<string, GateState>();
  readonly #timed = new Set<GateState>();
  /** Artifacts held apart until their embargo ends, by id. */
  readonly #embargoed = new Map<string, Embargoed>();
  readonly #deadLetters = new Map<string, DeadLetter>();
  readonly #timers = new Map<string, TimerRecord>();
  /** The key/value space: namespace, then key; values as JSON text, so that a caller's object is never shared. */
  readonly #values = new Map<string, Map<string, string>>();
  /** Admitted workflows (admission control): their input's id and until when a place without it is held. */
  readonly #admitted = new Map<string, { readonly inputId: string; reservedUntil: number }>();

  constructor(options?: MemoryStoreOptions) {
    assertOptions(options);
    if (options?.maxArtifacts !== undefined) assertInteger(options.maxArtifacts, 'maxArtifacts', { min: 1 });
    this.#maxArtifacts = options?.maxArtifacts ?? Infinity;
  }

  // ---------------------------------------------------------------------------------------------
  // Units

  publish(unit: PublishUnit): UnitResult {
    const releases = unit.releases ?? NO_IDS;
    // A release already done is a conflict, not a repeated id: checked before the writes.
    for (const id of releases) if (!this.#embargoed.has(id)) return nothing('conflict');
    this.#checkWrites(unit.writes, releases);
    for (const write of unit.writes) if (this.#states.get(write.artifact.correlationId) === 'cancelled') return nothing('cancelled');
    for (const run of unit.runs ?? NO_NEW_RUNS) if (this.#states.get(run.correlationId) === 'cancelled') return nothing('cancelled');
    for (const close of unit.closeGates ?? NO_CLOSES) if (this.#gates.get(close.key)?.version !== close.version) return nothing('conflict');
    for (const id of releases) this.#embargoed.delete(id);
    const log = new UnitLog();
    for (const close of unit.closeGates ?? NO_CLOSES) this.#closeGate(close, unit.now, log);
    for (const write of unit.writes) this.#applyWrite(write, unit.now, log);
    for (const run of unit.runs ?? NO_NEW_RUNS) this.#createRun(run, unit.now, log);
    return log.result();
  }

  claim(request: ClaimRequest): ClaimedRun[] {
    assertInteger(request.limit, 'limit', { min: 1 });
    const claimed: ClaimedRun[] = [];
    while (claimed.length < request.limit) {
      let best: Deque<StoredRun> | undefined;
      for (const agent of request.agents) {
        const queue = this.#queues.get(agent);
        if (queue === undefined) continue;
        this.#parkPausedHeads(queue);
        const head = queue.peek();
        if (head !== undefined && (best === undefined || head.enqueuedAt < best.peek()!.enqueuedAt)) best = queue;
      }
      if (best === undefined) break;
      const run = best.shift()!;
      run.state = 'running';
      run.attempt++;
      run.owner = request.owner;
      run.leaseUntil = request.now + request.leaseMs;
      this.#queued--;
      const counts = this.#counts.get(run.correlationId)!;
      counts.queued--;
      counts.running++;
      this.#running.set(run.id, run);
      claimed.push(snapshot(run) as ClaimedRun);
    }
    return claimed;
  }

  emit(claim: ClaimRef, outputs: readonly OutputWrite[], now: number): UnitResult {
    const run = this.#held(claim);
    if (run === undefined) return nothing('lost');
    if (this.#states.get(run.correlationId) === 'cancelled') return nothing('cancelled');
    const log = new UnitLog();
    const fresh = this.#fresh(run, outputs, log);
    this.#checkWrites(fresh);
    this.#applyOutputs(run, fresh, now, log, true);
    return log.result();
  }

  complete(claim: ClaimRef, completion: Completion, now: number): UnitResult {
    const run = this.#held(claim);
    if (run === undefined) return nothing('lost');
    const cancelled = this.#states.get(run.correlationId) === 'cancelled';
    const log = new UnitLog();
    switch (completion.outcome) {
      case 'finished': {
        const fresh = cancelled ? [] : this.#fresh(run, completion.outputs, log);
        this.#checkWrites(fresh);
        // The run ends here: its output indexes need no record, no later execution can apply them.
        this.#applyOutputs(run, fresh, now, log, false);
        break;
      }
      case 'failed':
        if (!cancelled) {
          this.#checkWrites([completion.fact]);
          this.#applyWrite(completion.fact, now, log);
        }
        this.#deadLetters.set(completion.deadLetter.id, completion.deadLetter);
        break;
      case 'released':
        this.#release(run);
        return log.result();
      case 'cancelled':
        break;
    }
    this.#endRun(run);
    return log.result(cancelled && completion.outcome !== 'cancelled' ? 'cancelled' : 'applied');
  }

  /** Each item as {@link complete} would, in order; an item that throws is rejected alone (nothing of it applied). */
  completeMany(items: readonly CompletionItem[], now: number): PromiseSettledResult<UnitResult>[] {
    return items.map((item): PromiseSettledResult<UnitResult> => {
      try {
        return { status: 'fulfilled', value: this.complete(item.claim, item.completion, now) };
      } catch (error) {
        return { status: 'rejected', reason: error };
      }
    });
  }

  renewLeases(owner: string, runIds: readonly string[], leaseMs: number, now: number): string[] {
    const lost: string[] = [];
    for (const id of runIds) {
      const run = this.#running.get(id);
      if (run === undefined || run.owner !== owner) lost.push(id);
      else run.leaseUntil = now + leaseMs;
    }
    return lost;
  }

  requeueExpired(now: number, options?: { readonly owner?: string }): RunRecord[] {
    const expired: StoredRun[] = [];
    for (const run of this.#running.values()) {
      if (options?.owner !== undefined ? run.owner === options.owner : run.leaseUntil! < now) expired.push(run);
    }
    // Back at the head of their queues, in the order they were claimed.
    for (let i = expired.length - 1; i >= 0; i--) this.#release(expired[i]!);
    return expired.map(snapshot);
  }

  dueGates(now: number, limit: number): GateState[] {
    const due: GateState[] = [];
    for (const gate of this.#timed) if (gate.deadline! <= now) due.push(gate);
    due.sort((a, b) => a.deadline! - b.deadline!);
    return due.slice(0, limit).map(cloneGate);
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const gate of this.#timed) if (next === undefined || gate.deadline! < next) next = gate.deadline;
    for (const { until } of this.#embargoed.values()) if (next === undefined || until < next) next = until;
    return next;
  }

  dueEmbargoes(now: number, limit: number): Artifact[] {
    const due: Embargoed[] = [];
    for (const held of this.#embargoed.values()) if (held.until <= now) due.push(held);
    due.sort((a, b) => a.until - b.until);
    return due.slice(0, limit).map((held) => held.artifact);
  }

  setWorkflowState(correlationId: string, state: WorkflowState): WorkflowChange {
    const previous = this.getWorkflowState(correlationId);
    if (previous === 'cancelled' || previous === state) return { previous, dropped: NO_RUNS };
    if (state === 'active') this.#states.delete(correlationId);
    else this.#states.set(correlationId, state);
    if (state === 'active') this.#unpark(correlationId);
    if (state !== 'cancelled') return { previous, dropped: NO_RUNS };
    const dropped: StoredRun[] = [...(this.#parked.get(correlationId) ?? [])];
    this.#parked.delete(correlationId);
    for (const queue of this.#queues.values()) {
      queue.removeIf((run) => {
        if (run.correlationId !== correlationId) return false;
        dropped.push(run);
        return true;
      });
    }
    for (const run of dropped) this.#endRun(run);
    for (const [id, held] of this.#embargoed) if (held.artifact.correlationId === correlationId) this.#embargoed.delete(id);
    for (const gate of [...this.#gates.values()]) {
      const removed = holding(gate, correlationId);
      if (removed.length === 0) continue;
      this.#storeGate(gate.key, removeWorkflowFromGate(gate, correlationId).state);
      for (const entry of removed) for (const id of entryIds(entry)) this.#unpin(id);
    }
    return { previous, dropped: dropped.map(snapshot) };
  }

  getWorkflowState(correlationId: string): WorkflowState {
    return this.#states.get(correlationId) ?? 'active';
  }

  listWorkflowStates(): { correlationId: string; state: WorkflowState }[] {
    return [...this.#states].map(([correlationId, state]) => ({ correlationId, state }));
  }

  pending(query?: { readonly correlationId?: string }): Pending {
    const id = query?.correlationId;
    if (id !== undefined) {
      const counts = this.#counts.get(id);
      const queued = counts?.queued ?? 0;
      const paused = this.#states.get(id) === 'paused';
      let timedGates = 0;
      for (const gate of this.#timed) if (holding(gate, id).length > 0) timedGates++;
      for (const held of this.#embargoed.values()) if (held.artifact.correlationId === id) timedGates++;
      return { queued: paused ? 0 : queued, paused: paused ? queued : 0, running: counts?.running ?? 0, timedGates };
    }
    let paused = 0;
    for (const [correlationId, state] of this.#states) if (state === 'paused') paused += this.#counts.get(correlationId)?.queued ?? 0;
    return { queued: this.#queued - paused, paused, running: this.#running.size, timedGates: this.#timed.size + this.#embargoed.size };
  }

  // ---------------------------------------------------------------------------------------------
  // Admission control

  admitWorkflow(request: AdmissionRequest): AdmissionAnswer {
    checkAdmission(request);
    const { correlationId, now } = request;
    let retryAt: number | undefined;
    for (const [id, place] of this.#admitted) {
      const waiting = !this.#holdsInput(place.inputId) && place.reservedUntil > now;
      if (!waiting && !this.#hasWork(id)) this.#admitted.delete(id);
      else if (waiting && (retryAt === undefined || place.reservedUntil < retryAt)) retryAt = place.reservedUntil;
    }
    const held = this.#admitted.get(correlationId);
    if (held !== undefined) {
      held.reservedUntil = Math.max(held.reservedUntil, now + request.reserveMs);
      return { admitted: true, active: this.#admitted.size };
    }
    if (this.#admitted.size >= request.max) return { admitted: false, active: this.#admitted.size, retryAt };
    this.#admitted.set(correlationId, { inputId: request.inputId, reservedUntil: now + request.reserveMs });
    return { admitted: true, active: this.#admitted.size };
  }

  releaseWorkflowAdmission(correlationId: string): boolean {
    const place = this.#admitted.get(correlationId);
    if (place === undefined || this.#holdsInput(place.inputId)) return false;
    return this.#admitted.delete(correlationId);
  }

  admittedWorkflows(now: number): number {
    let active = 0;
    for (const [id, place] of this.#admitted) if ((!this.#holdsInput(place.inputId) && place.reservedUntil > now) || this.#hasWork(id)) active++;
    return active;
  }

  /** Whether a workflow's input is in the store: stored, or held under embargo. */
  #holdsInput(inputId: string): boolean {
    return this.#byId.has(inputId) || this.#embargoed.has(inputId);
  }

  /** Whether workflow `id` has a run queued or running, an artifact in an open gate with a deadline, or one under embargo. */
  #hasWork(id: string): boolean {
    const counts = this.#counts.get(id);
    if (counts !== undefined && counts.queued + counts.running > 0) return true;
    for (const gate of this.#timed) if (holding(gate, id).length > 0) return true;
    for (const held of this.#embargoed.values()) if (held.artifact.correlationId === id) return true;
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  getArtifacts(ids: readonly string[]): (Artifact | undefined)[] {
    return ids.map((id) => this.#byId.get(id));
  }

  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Artifact<T>[];
  list(query?: ArtifactQuery): Artifact[];
  list(query?: ArtifactQuery): Artifact[] {
    const { typeName, since, limit } = checkArtifactQuery(query);
    const source = typeName === undefined ? this.#order : this.#byType.get(typeName);
    const result: Artifact[] = [];
    if (source === undefined) return result;
    for (const artifact of source) {
      if (result.length >= limit) break;
      if (query?.correlationId !== undefined && artifact.correlationId !== query.correlationId) continue;
      if (query?.producedBy !== undefined && artifact.producedBy !== query.producedBy) continue;
      if (since !== undefined && artifact.createdAt < since) continue;
      result.push(artifact);
    }
    return result;
  }

  listRuns(query?: RunQuery): RunRecord[] {
    const matches = (run: StoredRun): boolean =>
      (query?.agent === undefined || run.agent === query.agent) && (query?.correlationId === undefined || run.correlationId === query.correlationId);
    const runs: RunRecord[] = [];
    if (query?.state !== 'running') {
      for (const queue of this.#queues.values()) for (const run of queue) if (matches(run)) runs.push(snapshot(run));
      for (const parked of this.#parked.values()) for (const run of parked) if (matches(run)) runs.push(snapshot(run));
    }
    if (query?.state !== 'queued') for (const run of this.#running.values()) if (matches(run)) runs.push(snapshot(run));
    return runs;
  }

  listGates(query?: { readonly correlationId?: string }): GateState[] {
    const id = query?.correlationId;
    const gates = [...this.#gates.values()];
    const chosen = id === undefined ? gates : gates.filter((gate) => holding(gate, id).length > 0);
    return chosen.map(cloneGate);
  }

  listDeadLetters(query?: DeadLetterQuery): DeadLetter[] {
    const limit = query?.limit ?? Infinity;
    const result: DeadLetter[] = [];
    for (const letter of this.#deadLetters.values()) {
      if (result.length >= limit) break;
      if (query?.agent !== undefined && letter.run.agent !== query.agent) continue;
      if (query?.correlationId !== undefined && letter.run.correlationId !== query.correlationId) continue;
      result.push(letter);
    }
    return result;
  }

  listValues(namespace: string): StoredValue[] {
    checkValueKey(namespace, 'namespace');
    return [...(this.#values.get(namespace) ?? [])].map(([key, text]) => ({ key, value: JSON.parse(text) as unknown }));
  }

  putValue(namespace: string, key: string, value: unknown): void {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    const text = valueText(value);
    let space = this.#values.get(namespace);
    if (space === undefined) this.#values.set(namespace, (space = new Map<string, string>()));
    space.set(key, text);
  }

  deleteValue(namespace: string, key: string): boolean {
    checkValueKey(namespace, 'namespace');
    checkValueKey(key, 'key');
    return this.#values.get(namespace)?.delete(key) ?? false;
  }

  replayDeadLetter(id: string, run: NewRun, now: number): RunRecord | undefined {
    const letter = this.#deadLetters.get(id);
    if (letter === undefined) return undefined;
    if (this.#states.get(run.correlationId) === 'cancelled') throw new Error(`workflow ${run.correlationId} was cancelled; its dead letter ${id} cannot be replayed`);
    this.#deadLetters.delete(id);
    const log = new UnitLog();
    this.#createRun(run, now, log);
    return log.runs[0];
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  registerTimer(definition: TimerDefinition): TimerRecord {
    const stored = this.#timers.get(definition.name);
    if (stored?.fingerprint === definition.fingerprint) return stored;
    const timer: TimerRecord = {
      name: definition.name,
      fingerprint: definition.fingerprint,
      workflow: definition.workflow,
      nextDueAt: definition.firstDueAt,
      ticks: stored?.ticks ?? 0,
      version: (stored?.version ?? 0) + 1,
    };
    this.#timers.set(timer.name, timer);
    return timer;
  }

  fireTimer(fire: TimerFire): UnitResult {
    const timer = this.#timers.get(fire.name);
    if (timer === undefined || timer.version !== fire.version) return nothing('conflict');
    if (fire.write !== undefined) {
      this.#checkWrites([fire.write]);
      if (this.#states.get(fire.write.artifact.correlationId) === 'cancelled') return nothing('cancelled');
    }
    this.#timers.set(fire.name, { ...timer, nextDueAt: fire.nextDueAt, ticks: fire.ticks, version: timer.version + 1 });
    const log = new UnitLog();
    if (fire.write !== undefined) this.#applyWrite(fire.write, fire.now, log);
    return log.result();
  }

  dueTimers(names: readonly string[], now: number, limit: number): TimerRecord[] {
    const due = this.#armedTimers(names).filter((timer) => timer.nextDueAt! <= now);
    due.sort((a, b) => a.nextDueAt! - b.nextDueAt!);
    return due.slice(0, limit);
  }

  nextTimerDue(names: readonly string[]): number | undefined {
    let next: number | undefined;
    for (const timer of this.#armedTimers(names)) if (next === undefined || timer.nextDueAt! < next) next = timer.nextDueAt;
    return next;
  }

  listTimers(): TimerRecord[] {
    return [...this.#timers.values()];
  }

  /** Timers among `names` with a next slot, whose workflow (if any) is active. */
  #armedTimers(names: readonly string[]): TimerRecord[] {
    const armed: TimerRecord[] = [];
    for (const name of names) {
      const timer = this.#timers.get(name);
      if (timer?.nextDueAt === undefined) continue;
      if (timer.workflow !== undefined && this.#states.has(timer.workflow)) continue;
      armed.push(timer);
    }
    return armed;
  }

  // ---------------------------------------------------------------------------------------------
  // Applying writes

  /** Everything that could make a unit fail, checked before anything changes. */
  #checkWrites(writes: readonly ArtifactWrite[], releases: readonly string[] = NO_IDS): void {
    for (const write of writes) {
      const id = write.artifact.id;
      if (this.#byId.has(id)) throw new Error(`an artifact with id ${id} is already stored`);
      if (this.#embargoed.has(id) && !releases.includes(id)) throw new Error(`an artifact with id ${id} is already stored (held under an embargo)`);
    }
    checkWrites(writes);
  }

  #held(claim: ClaimRef): StoredRun | undefined {
    const run = this.#running.get(claim.runId);
    return run !== undefined && run.owner === claim.owner && run.attempt === claim.attempt ? run : undefined;
  }

  /** The outputs not applied by an earlier execution of `run`. */
  #fresh(run: StoredRun, outputs: readonly OutputWrite[], log: UnitLog): readonly OutputWrite[] {
    if (run.applied === undefined) return outputs;
    const fresh = outputs.filter((output) => !run.applied!.has(output.index));
    log.duplicates += outputs.length - fresh.length;
    return fresh;
  }

  #applyOutputs(run: StoredRun, outputs: readonly OutputWrite[], now: number, log: UnitLog, record: boolean): void {
    for (const output of outputs) {
      if (record) (run.applied ??= new Set()).add(output.index);
      this.#applyWrite(output, now, log);
    }
  }

  #applyWrite(write: ArtifactWrite, now: number, log: UnitLog): void {
    if (write.embargoUntil !== undefined) {
      this.#embargoed.set(write.artifact.id, { artifact: write.artifact, until: write.embargoUntil });
      if (log.nextDeadline === undefined || write.embargoUntil < log.nextDeadline) log.nextDeadline = write.embargoUntil;
      return;
    }
    this.#storeArtifact(write.artifact);
    for (const run of write.runs) this.#createRun(run, now, log);
    for (const deposit of write.deposits) this.#deposit(deposit, now, log);
    this.#evict();
  }

  #storeArtifact(artifact: Artifact): void {
    this.#byId.set(artifact.id, artifact);
    this.#order.push(artifact);
    let ofType = this.#byType.get(artifact.type);
    if (ofType === undefined) this.#byType.set(artifact.type, (ofType = new Deque()));
    ofType.push(artifact);
  }

  #deposit(deposit: GateDeposit, now: number, log: UnitLog): void {
    const transition = depositIntoGate(this.#gates.get(deposit.key), deposit, now);
    for (const id of deposit.artifactIds ?? [deposit.artifactId]) this.#pin(id);
    this.#storeGate(deposit.key, transition.state, log);
    for (const group of transition.groups) {
      // A join feeding a batch: the group enters the batch (pinning its artifacts again) instead of making a run.
      if (deposit.thenBatch !== undefined) this.#deposit(batchDepositOf(deposit, group), now, log);
      else this.#createRun(groupRun(deposit, group), now, log);
      for (const entry of group) for (const id of entryIds(entry)) this.#unpin(id);
    }
  }

  #closeGate(close: GateClose, now: number, log: UnitLog): void {
    const gate = this.#gates.get(close.key)!;
    const { state, taken } = expireGate(gate, now);
    this.#storeGate(close.key, state, log);
    if (close.run !== undefined) this.#createRun(close.run, now, log);
    for (const entries of taken) for (const entry of entries) for (const id of entryIds(entry)) this.#unpin(id);
  }

  #storeGate(key: string, state: GateState | undefined, log?: UnitLog): void {
    const old = this.#gates.get(key);
    if (old !== undefined && old !== state) this.#timed.delete(old);
    if (state === undefined) {
      this.#gates.delete(key);
      return;
    }
    this.#gates.set(key, state);
    if (state.deadline === undefined) this.#timed.delete(state);
    else {
      this.#timed.add(state);
      if (log !== undefined && (log.nextDeadline === undefined || state.deadline < log.nextDeadline)) log.nextDeadline = state.deadline;
    }
  }

  #createRun(run: NewRun, now: number, log: UnitLog): void {
    if (run.runLimit !== undefined && !this.#countRun(run, log)) return;
    const stored: StoredRun = { ...queuedRun(run, now), applied: undefined };
    let queue = this.#queues.get(run.agent);
    if (queue === undefined) this.#queues.set(run.agent, (queue = new Deque()));
    queue.push(stored);
    this.#queued++;
    let counts = this.#counts.get(run.correlationId);
    if (counts === undefined) this.#counts.set(run.correlationId, (counts = { queued: 0, running: 0 }));
    counts.queued++;
    for (const id of run.inputIds) this.#pin(id);
    log.addRun(snapshot(stored));
  }

  /** Counts a run against its workflow's limit for the agent; false (and a report) when the limit is reached. */
  #countRun(run: NewRun, log: UnitLog): boolean {
    let agents = this.#loops.get(run.correlationId);
    if (agents === undefined) {
      this.#loops.set(run.correlationId, (agents = new Map<string, LoopCounter>()));
      this.#forgetQuietCounters();
    }
    let counter = agents.get(run.agent);
    if (counter === undefined) agents.set(run.agent, (counter = { count: 0, reported: false }));
    if (counter.count >= run.runLimit!) {
      log.addLimit({ agent: run.agent, correlationId: run.correlationId, limit: run.runLimit!, inputIds: run.inputIds, first: !counter.reported });
      counter.reported = true;
      return false;
    }
    counter.count++;
    return true;
  }

  /** With retention: forgets the oldest workflows' loop counters once they have no runs left. */
  #forgetQuietCounters(): void {
    if (this.#loops.size <= this.#maxArtifacts) return;
    for (let tries = 0; tries < 4 && this.#loops.size > this.#maxArtifacts; tries++) {
      const [oldest, counters] = this.#loops.entries().next().value as [string, Map<string, LoopCounter>];
      this.#loops.delete(oldest);
      if (this.#counts.has(oldest)) this.#loops.set(oldest, counters); // still working: keep it, at the back
    }
  }

  #release(run: StoredRun): void {
    this.#running.delete(run.id);
    run.state = 'queued';
    run.owner = undefined;
    run.leaseUntil = undefined;
    let queue = this.#queues.get(run.agent);
    if (queue === undefined) this.#queues.set(run.agent, (queue = new Deque()));
    queue.unshift(run);
    this.#queued++;
    const counts = this.#counts.get(run.correlationId)!;
    counts.running--;
    counts.queued++;
  }

  /** A run leaves the store (ended, or dropped from its queue). */
  #endRun(run: StoredRun): void {
    const counts = this.#counts.get(run.correlationId)!;
    if (run.state === 'running') {
      this.#running.delete(run.id);
      counts.running--;
    } else {
      this.#queued--;
      counts.queued--;
    }
    if (counts.queued === 0 && counts.running === 0) this.#counts.delete(run.correlationId);
    for (const id of run.inputIds) this.#unpin(id);
  }

  #parkPausedHeads(queue: Deque<StoredRun>): void {
    for (let head = queue.peek(); head !== undefined && this.#states.has(head.correlationId); head = queue.peek()) {
      queue.shift();
      let parked = this.#parked.get(head.correlationId);
      if (parked === undefined) this.#parked.set(head.correlationId, (parked = []));
      parked.push(head);
    }
  }

  #unpark(correlationId: string): void {
    const parked = this.#parked.get(correlationId);
    if (parked === undefined) return;
    this.#parked.delete(correlationId);
    // Back to the head of their queues, in their original order, so resuming keeps FIFO per workflow.
    for (let i = parked.length - 1; i >= 0; i--) {
      const run = parked[i]!;
      let queue = this.#queues.get(run.agent);
      if (queue === undefined) this.#queues.set(run.agent, (queue = new Deque()));
      queue.unshift(run);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Retention

  #pin(id: string): void {
    if (this.#maxArtifacts === Infinity) return;
    this.#pins.set(id, (this.#pins.get(id) ?? 0) + 1);
  }

  #unpin(id: string): void {
    if (this.#maxArtifacts === Infinity) return;
    const count = (this.#pins.get(id) ?? 1) - 1;
    if (count > 0) {
      this.#pins.set(id, count);
      return;
    }
    this.#pins.delete(id);
    if (this.#evicted.delete(id)) this.#byId.delete(id);
  }

  #evict(): void {
    while (this.#order.length > this.#maxArtifacts) {
      const oldest = this.#order.shift()!;
      this.#byType.get(oldest.type)!.shift();
      if (this.#pins.has(oldest.id)) this.#evicted.add(oldest.id);
      else this.#byId.delete(oldest.id);
    }
  }
}
