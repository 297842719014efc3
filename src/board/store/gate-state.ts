/**
 * Gate logic, pure: `gate state + deposit -> new state + the group it completes`. Every store applies
 * it inside its own unit (the memory store on its records, a SQL store on the gate row it loaded
 * `FOR UPDATE` and writes back), so that AND gates, batches and joins behave the same on every store.
 *
 * One shape covers the three kinds: an AND gate (one artifact per declared type), a join (the same,
 * grouped by a key, waiting at most `windowMs`) and a batch (up to `batchSize` artifacts of one type,
 * or whatever waited by `windowMs`). Each position is a FIFO with a head index, so taking the oldest
 * entry is O(1) however many wait; consumed entries are compacted away once they are the majority.
 *
 * Windows count from the oldest waiting entry: a gate's deadline is the earliest `at + windowMs` of
 * the entries at the heads of its positions.
 *
 * A count window (`maxWaiting`, a join's `withinLast`) keeps at most that many matchable entries per
 * position: a deposit beyond it pushes the oldest one out of the window. An entry pushed out stays in
 * its slot, in a prefix of `evicted[i]` entries right after the head that matching skips, until the
 * gate is closed: `evictedSince` makes the gate due at once, so the deadline path reports the entries
 * in a `JoinExpired` fact (through the same guarded close as a time window) instead of dropping them.
 * Kept in the slots, they stay findable by workflow (a cancel removes them, every store indexes them).
 */
import type { GateDeposit, NewRun, RunRecord } from './contract.js';

/** What a gate collects: one artifact per declared type (`and`), up to a batch size of one type (`batch`), or an AND group per join key within a window (`join`). */
export type GateKind = 'and' | 'batch' | 'join';

/**
 * An artifact waiting in a gate, with its workflow and arrival time (epoch ms). In the batch of a
 * join feeding a batch, an entry is one joined group: `artifactIds` holds its artifacts in declared
 * order (`artifactId` is the first), and `correlationId` is the workflow its run would belong to.
 */
export interface GateEntry {
  readonly artifactId: string;
  readonly correlationId: string;
  readonly at: number;
  /** A joined group's artifacts, in declared order; absent for an entry of one artifact. */
  readonly artifactIds?: readonly string[] | undefined;
}

/**
 * The artifacts an entry holds: its group's, or its one artifact.
 *
 * @example
 * ```ts
 * import { entryIds } from 'skein/board/store';
 * entryIds({ artifactId: 'a1', correlationId: 'wf', at: 0, artifactIds: ['a1', 'b1'] }); // ['a1', 'b1']
 * ```
 */
export function entryIds(entry: GateEntry): readonly string[] {
  return entry.artifactIds ?? [entry.artifactId];
}

/**
 * The deposit that a group let out of a join makes into the batch the join feeds
 * (`deposit.thenBatch`): one entry holding the whole group, in the group's first workflow.
 *
 * @example
 * ```ts no-run
 * for (const group of depositIntoGate(join, deposit, now).groups) {
 *   if (deposit.thenBatch !== undefined) deposit(batchDepositOf(deposit, group)); else createRun(groupRun(deposit, group));
 * }
 * ```
 */
export function batchDepositOf(deposit: GateDeposit, group: readonly GateEntry[]): GateDeposit {
  const then = deposit.thenBatch!;
  return {
    key: then.key,
    agent: deposit.agent,
    subscription: deposit.subscription,
    kind: 'batch',
    typeNames: deposit.typeNames,
    positions: [0],
    batchSize: then.batchSize,
    windowMs: then.windowMs,
    artifactId: group[0]!.artifactId,
    artifactIds: group.flatMap(entryIds),
    correlationId: group[0]!.correlationId,
    runId: deposit.runId,
    runLimit: deposit.runLimit,
  };
}

/**
 * A gate's stored state (a JSON-serialisable record).
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'skein/board/store';
 * const open = new MemoryStore().listGates(); // batches and joins still waiting
 * ```
 */
export interface GateState {
  readonly key: string;
  readonly agent: string;
  readonly subscription: number;
  readonly kind: GateKind;
  readonly typeNames: readonly string[];
  readonly joinKey?: string | undefined;
  readonly batchSize?: number | undefined;
  readonly windowMs?: number | undefined;
  /** A count window: at most this many matchable entries wait per position; undefined: no limit. */
  readonly maxWaiting?: number | undefined;
  /** One FIFO per position; the entries before `heads[i]` were taken already. */
  readonly slots: GateEntry[][];
  readonly heads: number[];
  /** Per position, how many entries after the head left the count window (absent: none). */
  evicted?: number[] | undefined;
  /** Epoch ms when the oldest entry still waiting to be reported left the count window; undefined: none did. */
  evictedSince?: number | undefined;
  /** Epoch ms of the earliest window end among waiting entries; undefined when the gate has no window. */
  deadline: number | undefined;
  /** Bumped by every change, so that closing a due gate can be guarded against a concurrent deposit. */
  version: number;
}

/** What a deposit or a close did: the gate's new state (undefined: delete it) and what it let out. */
export interface GateTransition {
  readonly state: GateState | undefined;
  /** Complete input groups, entries in the order the agent receives them. */
  readonly groups: readonly (readonly GateEntry[])[];
}

/** What closing a due gate takes out: a batch's waiting entries, or a join's expired entries per position. */
export interface GateExpiry {
  readonly state: GateState | undefined;
  /** Per position, the entries whose window passed (for a batch: one position, everything waiting). */
  readonly taken: readonly (readonly GateEntry[])[];
}

const COMPACT_AT = 64;

/**
 * A gate's key: agent, subscription and scope (a workflow, a join key, or the board), each part
 * percent-encoded and joined with `/`, so that keys never hold NUL or collide across parts.
 *
 * @example
 * ```ts
 * import { gateKey } from 'skein/board/store';
 * gateKey('matcher', 0, { joinKey: 'order-7' }); // 'matcher/0/key:order-7'
 * ```
 */
export function gateKey(agent: string, subscription: number, scope: { readonly correlationId: string } | { readonly joinKey: string } | 'board'): string {
  const where = scope === 'board' ? 'board' : 'joinKey' in scope ? `key:${encodeURIComponent(scope.joinKey)}` : `wf:${encodeURIComponent(scope.correlationId)}`;
  return `${encodeURIComponent(agent)}/${subscription}/${where}`;
}

/** A new, empty gate for `deposit`. */
export function openGate(deposit: GateDeposit): GateState {
  const width = deposit.kind === 'batch' ? 1 : deposit.typeNames.length;
  return {
    key: deposit.key,
    agent: deposit.agent,
    subscription: deposit.subscription,
    kind: deposit.kind,
    typeNames: deposit.typeNames,
    joinKey: deposit.joinKey,
    batchSize: deposit.batchSize,
    windowMs: deposit.windowMs,
    maxWaiting: deposit.maxWaiting,
    slots: Array.from({ length: width }, () => []),
    heads: Array.from({ length: width }, () => 0),
    deadline: undefined,
    version: firstVersion(),
  };
}

/**
 * A new gate's first version: random, not 0. A gate emptied by a close is deleted, and one opened
 * again under the same key must not repeat the versions of the old one, or a close read from the old
 * gate (another process flushing it late) would pass the version guard and take the new gate's
 * place. Below 2^30, so that bumps stay within a 32-bit column.
 */
function firstVersion(): number {
  return Math.floor(Math.random() * 2 ** 30);
}

/** How many entries wait at `position` (those pushed out of a count window included, until they are reported). */
export function waitingAt(state: GateState, position: number): number {
  return state.slots[position]!.length - state.heads[position]!;
}

/** How many entries pushed out of the count window wait at `position` to be reported. */
function evictedAt(state: GateState, position: number): number {
  return state.evicted?.[position] ?? 0;
}

/** How many entries at `position` a group may still take (inside the count window). */
function matchableAt(state: GateState, position: number): number {
  return waitingAt(state, position) - evictedAt(state, position);
}

/** Pushes the oldest matchable entry at `position` out of the count window. */
function evictOldest(gate: GateState, position: number, now: number): void {
  const evicted = (gate.evicted ??= gate.slots.map(() => 0));
  evicted[position]!++;
  gate.evictedSince ??= now;
}

/**
 * Takes the oldest matchable entry at `position`. Entries pushed out of the count window sit between
 * the head and it: it is swapped with the head first (their order does not matter, they are reported
 * together), so that the take stays O(1).
 */
function takeMatchable(gate: GateState, position: number): GateEntry {
  const skip = evictedAt(gate, position);
  if (skip > 0) {
    const slot = gate.slots[position]!;
    const head = gate.heads[position]!;
    const entry = slot[head + skip]!;
    slot[head + skip] = slot[head]!;
    slot[head] = entry;
  }
  return take(gate, position, 1)[0]!;
}

/** The entries waiting at `position`, oldest first. */
export function entriesAt(state: GateState, position: number): GateEntry[] {
  return state.slots[position]!.slice(state.heads[position]);
}

/** Whether no entry waits at any of the gate's positions (a transition that empties a gate answers no state: the gate is deleted). */
export function isEmptyGate(state: GateState): boolean {
  for (let i = 0; i < state.slots.length; i++) if (waitingAt(state, i) > 0) return false;
  return true;
}

/**
 * Adds the deposit's artifact to `state` (a new gate when undefined) at the candidate position with
 * the fewest waiting, then takes out the group it completes, if any (one deposit completes at most
 * one group). `state` is updated in place: the caller owns it (a SQL store parses a fresh copy per
 * transaction).
 */
export function depositIntoGate(state: GateState | undefined, deposit: GateDeposit, now: number): GateTransition {
  const gate = state ?? openGate(deposit);
  let position = -1;
  for (const candidate of deposit.positions) {
    if (candidate < 0 || candidate >= gate.slots.length) throw new RangeError(`gate ${gate.key} has no position ${candidate}`);
    if (position === -1 || matchableAt(gate, candidate) < matchableAt(gate, position)) position = candidate;
  }
  if (position === -1) throw new RangeError(`a deposit into gate ${gate.key} names no position`);
  gate.slots[position]!.push(
    deposit.artifactIds === undefined
      ? { artifactId: deposit.artifactId, correlationId: deposit.correlationId, at: now }
      : { artifactId: deposit.artifactId, correlationId: deposit.correlationId, at: now, artifactIds: deposit.artifactIds },
  );
  gate.version++;
  const groups: GateEntry[][] = [];
  if (gate.kind === 'batch') {
    if (waitingAt(gate, 0) >= deposit.batchSize!) groups.push(take(gate, 0, deposit.batchSize!));
  } else if (gate.slots.every((_, i) => matchableAt(gate, i) > 0)) {
    groups.push(gate.slots.map((_, i) => takeMatchable(gate, i)));
  } else if (gate.maxWaiting !== undefined && matchableAt(gate, position) > gate.maxWaiting) {
    evictOldest(gate, position, now);
  }
  return settle(gate, groups);
}

/**
 * The run that a group let out of a gate schedules: the deposit's agent and subscription, the group's
 * artifacts as inputs, in the workflow of its first entry.
 *
 * @example
 * ```ts no-run
 * for (const group of depositIntoGate(gate, deposit, now).groups) createRun(groupRun(deposit, group));
 * ```
 */
export function groupRun(deposit: GateDeposit, group: readonly GateEntry[]): NewRun {
  return {
    id: deposit.runId,
    agent: deposit.agent,
    subscription: deposit.subscription,
    inputIds: group.flatMap(entryIds),
    correlationId: group[0]!.correlationId,
    runLimit: deposit.runLimit,
  };
}

/** A run's record as it is queued: every field present (undefined where unset), so that records keep one shape. */
export interface QueuedRun extends RunRecord {
  readonly replayOf: string | undefined;
  readonly state: 'queued';
  readonly owner: undefined;
  readonly leaseUntil: undefined;
}

/**
 * The record of `run` as it is queued at `now`: no attempt yet, no owner, no lease.
 *
 * @example
 * ```ts no-run
 * log.runs.push(queuedRun(run, now));
 * ```
 */
export function queuedRun(run: NewRun, now: number): QueuedRun {
  return {
    id: run.id,
    agent: run.agent,
    subscription: run.subscription,
    inputIds: run.inputIds,
    correlationId: run.correlationId,
    enqueuedAt: now,
    replayOf: run.replayOf,
    state: 'queued',
    attempt: 0,
    owner: undefined,
    leaseUntil: undefined,
  };
}

/**
 * Closes what is due in `state` at `now`: a batch gives everything waiting (its timeout passed); a
 * join or an AND gate with a window gives, per position, the entries whose window passed (pushed out
 * of the count window, or waiting longer than `windowMs`).
 */
export function expireGate(state: GateState, now: number): GateExpiry {
  const taken: GateEntry[][] = [];
  const windowMs = state.windowMs ?? Infinity;
  for (let i = 0; i < state.slots.length; i++) {
    if (state.kind === 'batch') {
      taken.push(take(state, i, waitingAt(state, i)));
      continue;
    }
    let count = evictedAt(state, i);
    const slot = state.slots[i]!;
    for (let j = state.heads[i]! + count; j < slot.length && slot[j]!.at + windowMs <= now; j++) count++;
    taken.push(take(state, i, count));
  }
  state.evicted = undefined;
  state.evictedSince = undefined;
  state.version++;
  return { state: settle(state, []).state, taken };
}

/** Removes a workflow's entries (it was cancelled). */
export function removeWorkflowFromGate(state: GateState, correlationId: string): GateTransition {
  let changed = false;
  for (let i = 0; i < state.slots.length; i++) {
    const waiting = entriesAt(state, i);
    const kept = waiting.filter((entry) => entry.correlationId !== correlationId);
    if (kept.length !== waiting.length) {
      if (state.evicted !== undefined) {
        const evicted = waiting.slice(0, state.evicted[i]);
        state.evicted[i] = evicted.filter((entry) => entry.correlationId !== correlationId).length;
      }
      state.slots[i] = kept;
      state.heads[i] = 0;
      changed = true;
    }
  }
  if (state.evicted?.every((count) => count === 0) === true) {
    state.evicted = undefined;
    state.evictedSince = undefined;
  }
  if (changed) state.version++;
  return settle(state, []);
}

/** Every artifact id waiting in `state`. */
export function waitingIds(state: GateState): string[] {
  const ids: string[] = [];
  for (let i = 0; i < state.slots.length; i++) for (const entry of entriesAt(state, i)) ids.push(...entryIds(entry));
  return ids;
}

function take(gate: GateState, position: number, count: number): GateEntry[] {
  const slot = gate.slots[position]!;
  const head = gate.heads[position]!;
  const taken = slot.slice(head, head + count);
  const next = head + count;
  if (next === slot.length) {
    slot.length = 0;
    gate.heads[position] = 0;
  } else if (next >= COMPACT_AT && next * 2 >= slot.length) {
    // Amortised O(1): the consumed prefix is dropped only once it is at least half the array.
    gate.slots[position] = slot.slice(next);
    gate.heads[position] = 0;
  } else gate.heads[position] = next;
  return taken;
}

function settle(gate: GateState, groups: GateEntry[][]): GateTransition {
  if (isEmptyGate(gate)) return { state: undefined, groups };
  let deadline: number | undefined;
  if (gate.windowMs !== undefined) {
    for (let i = 0; i < gate.slots.length; i++) {
      const head = gate.slots[i]![gate.heads[i]!];
      if (head !== undefined && (deadline === undefined || head.at + gate.windowMs < deadline)) deadline = head.at + gate.windowMs;
    }
  }
  if (gate.evictedSince !== undefined && (deadline === undefined || gate.evictedSince < deadline)) deadline = gate.evictedSince;
  gate.deadline = deadline;
  return { state: gate, groups };
}

/** A deep copy of `state` without its consumed entries: what a store hands out, so that callers cannot change its records. */
export function cloneGate(state: GateState): GateState {
  return {
    ...state,
    evicted: state.evicted?.slice(),
    slots: state.slots.map((_, i) => entriesAt(state, i)),
    heads: state.heads.map(() => 0),
  };
}
