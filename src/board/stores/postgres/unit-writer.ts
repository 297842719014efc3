/**
 * Applies a unit's writes inside its transaction: artifacts, the runs they schedule, gate deposits and
 * closes, loop counters. Everything the gates decide is computed in process on rows locked for the
 * unit (the pure logic of gate-state.ts), then written back in a few set-based statements:
 *
 * 1. lock the gates the unit touches (sorted keys, rows created when new), apply closes and deposits;
 * 2. lock the loop counters of the runs to create (sorted), refuse the runs past their limit;
 * 3. write gates and counters, then artifacts, runs and the end of the completed runs in one statement
 *    (which also notifies the listening workers).
 *
 * A batch of completions shares one writer (each item with a log of its own), so a batch costs the
 * statements of one unit.
 */
import type { Artifact } from '../../artifact.js';
import type { ArtifactWrite, GateClose, GateDeposit, NewRun, RunLimitReached, RunRecord, UnitResult } from '../../store/contract.js';
import { batchDepositOf, cloneGate, depositIntoGate, expireGate, groupRun, queuedRun, type GateState } from '../../store/gate-state.js';
import type { PostgresClient } from './connection.js';
import type { Statements } from './statements.js';
import { Rollback } from './transaction.js';

const NONE: readonly never[] = Object.freeze([]);

/** A unit's outcome while it is being applied. */
export class UnitLog {
  runs: RunRecord[] = [];
  limited: RunLimitReached[] = [];
  duplicates = 0;
  nextDeadline: number | undefined;

  result(status: UnitResult['status'] = 'applied'): UnitResult {
    return { status, runs: this.runs, limited: this.limited, duplicates: this.duplicates, nextDeadline: this.nextDeadline };
  }
}

/** The result of a unit that applied nothing. */
export function nothing(status: UnitResult['status']): UnitResult {
  return { status, runs: NONE, limited: NONE, duplicates: 0, nextDeadline: undefined };
}

interface Counter {
  count: number;
  reported: boolean;
  changed: boolean;
}

const pairKey = (correlationId: string, agent: string) => `${correlationId}\u0000${agent}`;

/** The keys of the gates `writes` deposit into: each deposit's gate, and the batch a join feeds. */
export function gateKeysOf(writes: readonly ArtifactWrite[]): string[] {
  const keys: string[] = [];
  for (const write of writes) {
    for (const deposit of write.deposits) {
      keys.push(deposit.key);
      if (deposit.thenBatch !== undefined) keys.push(deposit.thenBatch.key);
    }
  }
  return keys;
}

/** Writes one unit; `apply` once, then `flush`. */
export class UnitWriter {
  readonly log = new UnitLog();
  readonly #client: PostgresClient;
  readonly #sql: Statements;
  readonly #channel: string;
  readonly #now: number;
  readonly #artifacts: Artifact[] = [];
  /** Artifacts held apart under an embargo, with its end. */
  readonly #held: [Artifact, number][] = [];
  /** The runs to create, each with the log of the unit (or batch item) that schedules it. */
  readonly #candidates: [NewRun, UnitLog][] = [];
  readonly #gates = new Map<string, GateState | undefined>();
  readonly #changedGates = new Set<string>();

  constructor(client: PostgresClient, sql: Statements, channel: string, now: number) {
    this.#client = client;
    this.#sql = sql;
    this.#channel = channel;
    this.#now = now;
  }

  /** Locks the gates of `closes` and `writes`; answers the gates as locked (undefined: none open). */
  async lockGates(keys: Iterable<string>): Promise<ReadonlyMap<string, GateState | undefined>> {
    const sorted = [...new Set(keys)].filter((key) => !this.#gates.has(key)).sort();
    if (sorted.length > 0) {
      const { rows } = await this.#client.query(this.#sql.lockGates(sorted));
      for (const row of rows as { key: string; state: GateState | null }[]) this.#gates.set(row.key, row.state ?? undefined);
    }
    return this.#gates;
  }

  /**
   * Applies closes (their gates locked with `lockGates`) and writes, in order, in process; what they
   * do goes to `log` (a batch keeps one per item; a later item sees an earlier one's deposits).
   */
  async apply(writes: readonly ArtifactWrite[], closes: readonly GateClose[] = NONE, log: UnitLog = this.log): Promise<void> {
    await this.lockGates(gateKeysOf(writes));
    for (const close of closes) {
      const { state } = expireGate(this.#gates.get(close.key)!, this.#now);
      this.#setGate(close.key, state, log);
      if (close.run !== undefined) this.#candidates.push([close.run, log]);
    }
    for (const write of writes) {
      if (write.embargoUntil !== undefined) {
        this.#held.push([write.artifact, write.embargoUntil]);
        if (log.nextDeadline === undefined || write.embargoUntil < log.nextDeadline) log.nextDeadline = write.embargoUntil;
        continue;
      }
      this.#artifacts.push(write.artifact);
      for (const run of write.runs) this.#candidates.push([run, log]);
      for (const deposit of write.deposits) this.#deposit(deposit, log);
    }
  }

  /** One deposit into a locked gate; a group it completes is a run, or (a join feeding a batch) enters the batch, locked too. */
  #deposit(deposit: GateDeposit, log: UnitLog): void {
    const { state, groups } = depositIntoGate(this.#gates.get(deposit.key), deposit, this.#now);
    this.#setGate(deposit.key, state, log);
    for (const group of groups) {
      if (deposit.thenBatch !== undefined) this.#deposit(batchDepositOf(deposit, group), log);
      else this.#candidates.push([groupRun(deposit, group), log]);
    }
  }

  /** Queues runs that no artifact of the unit schedules (a dead letter's replay). */
  schedule(runs: readonly NewRun[]): void {
    for (const run of runs) this.#candidates.push([run, this.log]);
  }

  /** Marks gates changed outside `apply` (a cancelled workflow's entries removed). */
  setGate(key: string, state: GateState | undefined): void {
    this.#setGate(key, state, this.log);
  }

  /**
   * Counts runs against their limits, then writes everything; `endRunIds` are the runs the unit
   * completes (they leave the queue in the same statement). A repeated artifact id violates the
   * unique key and rolls the unit back. When a workflow among `guarded` turns out cancelled (checked
   * in the same statement), nothing is written and the unit rolls back as `cancelled`. Answers the
   * result of `log`.
   */
  async flush(endRunIds: readonly string[] = NONE, guarded: readonly string[] = NONE): Promise<UnitResult> {
    const queued = await this.#withinLimits(this.#candidates);
    const runs = queued.map(([run]) => run);
    await this.#writeGates();
    await this.#hold();
    const a = this.#artifacts;
    if (a.length > 0 || runs.length > 0 || endRunIds.length > 0 || guarded.length > 0) {
      const { rows } = await this.#client.query(
        this.#sql.applyUnit(
          a.map((x) => x.id),
          a.map((x) => x.type),
          a.map((x) => x.correlationId),
          a.map((x) => x.producedBy),
          a.map((x) => x.createdAt),
          a.map((x) => JSON.stringify(x)),
          runs.map((r) => r.id),
          runs.map((r) => r.agent),
          runs.map((r) => r.subscription),
          runs.map((r) => JSON.stringify(r.inputIds)),
          runs.map((r) => r.correlationId),
          runs.map((r) => r.replayOf ?? null),
          this.#now,
          endRunIds,
          this.#channel,
          guarded,
        ),
      );
      if ((rows[0] as { cancelled: boolean }).cancelled) throw new Rollback(nothing('cancelled'));
    }
    for (const [run, log] of queued) log.runs.push(queuedRun(run, this.#now));
    return this.log.result();
  }

  /** Stores the held artifacts apart (rolled back with the unit if a workflow turns out cancelled). */
  async #hold(): Promise<void> {
    const h = this.#held;
    if (h.length === 0) return;
    await this.#client.query(
      this.#sql.holdArtifacts(
        h.map(([x]) => x.id),
        h.map(([x]) => x.correlationId),
        h.map(([, until]) => until),
        h.map(([x]) => JSON.stringify(x)),
      ),
    );
  }

  #setGate(key: string, state: GateState | undefined, log: UnitLog): void {
    this.#gates.set(key, state);
    this.#changedGates.add(key);
    if (state?.deadline !== undefined && (log.nextDeadline === undefined || state.deadline < log.nextDeadline)) log.nextDeadline = state.deadline;
  }

  async #writeGates(): Promise<void> {
    if (this.#changedGates.size === 0) return;
    const kept: GateState[] = [];
    const deleted: string[] = [];
    for (const key of this.#changedGates) {
      const state = this.#gates.get(key);
      if (state === undefined) deleted.push(key);
      else kept.push(cloneGate(state));
    }
    if (deleted.length > 0) await this.#client.query(this.#sql.deleteGates(deleted));
    if (kept.length > 0) {
      await this.#client.query(
        this.#sql.writeGates(
          kept.map((g) => g.key),
          kept.map((g) => JSON.stringify(g)),
          kept.map((g) => g.deadline ?? null),
          kept.map((g) => g.version),
        ),
      );
    }
  }

  /** The runs whose workflow has not reached the agent's limit; the others are reported in the log. */
  async #withinLimits(candidates: readonly [NewRun, UnitLog][]): Promise<readonly [NewRun, UnitLog][]> {
    const limited = candidates.filter(([run]) => run.runLimit !== undefined);
    if (limited.length === 0) return candidates;
    const pairs = new Map<string, [string, string]>();
    for (const [run] of limited) pairs.set(pairKey(run.correlationId, run.agent), [run.correlationId, run.agent]);
    const sorted = [...pairs.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const { rows } = await this.#client.query(this.#sql.lockCounters(sorted.map((p) => p[0]), sorted.map((p) => p[1])));
    const counters = new Map<string, Counter>();
    for (const row of rows as { correlation_id: string; agent: string; count: number; reported: boolean }[]) {
      counters.set(pairKey(row.correlation_id, row.agent), { count: row.count, reported: row.reported, changed: false });
    }
    const created: [NewRun, UnitLog][] = [];
    for (const candidate of candidates) {
      const [run, log] = candidate;
      if (run.runLimit === undefined) {
        created.push(candidate);
        continue;
      }
      const counter = counters.get(pairKey(run.correlationId, run.agent))!;
      counter.changed = true;
      if (counter.count >= run.runLimit) {
        log.limited.push({ agent: run.agent, correlationId: run.correlationId, limit: run.runLimit, inputIds: run.inputIds, first: !counter.reported });
        counter.reported = true;
      } else {
        counter.count++;
        created.push(candidate);
      }
    }
    const changed = [...counters].filter(([, counter]) => counter.changed);
    await this.#client.query(
      this.#sql.writeCounters(
        changed.map(([key]) => key.split('\u0000')[0]),
        changed.map(([key]) => key.split('\u0000')[1]),
        changed.map(([, c]) => c.count),
        changed.map(([, c]) => c.reported),
      ),
    );
    return created;
  }
}
