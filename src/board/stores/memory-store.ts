/**
 * The in-memory store: the default, and the fastest. Everything lives in this process and is gone
 * when it exits; use a durable store to resume after a crash.
 */
import type { Artifact, ArtifactTypeOf } from '../artifact.js';
import { Deque } from '../../flow/deque.js';
import type {
  ArtifactQuery,
  BoardStore,
  DeadLetter,
  DeadLetterQuery,
  GateRecord,
  RunCountQuery,
  RunOutcome,
  RunRecord,
  WorkflowState,
} from '../store.js';
import { checkArtifactQuery } from '../query.js';

/**
 * Keeps a board's state in memory. Runs queue per agent, first in first out; a run whose workflow is
 * paused is set aside when reached and put back at the head of its queue on resume.
 *
 * @example
 * ```ts
 * import { Board, MemoryStore } from 'skein/board';
 * const store = new MemoryStore();
 * await using board = new Board({ store });
 * board.store === store; // true
 * ```
 */
export class MemoryStore implements BoardStore {
  readonly #artifacts: Artifact[] = [];
  readonly #byId = new Map<string, Artifact>();
  readonly #byType = new Map<string, Artifact[]>();
  readonly #queues = new Map<string, Deque<RunRecord>>();
  readonly #running = new Map<string, RunRecord>();
  /** Runs of paused or cancelled workflows, set aside by `claimRun`, in queue order. */
  readonly #parked = new Map<string, RunRecord[]>();
  readonly #workflows = new Map<string, WorkflowState>();
  readonly #gates = new Map<string, GateRecord>();
  readonly #deadLetters = new Map<string, DeadLetter>();

  putArtifact(artifact: Artifact): void {
    if (this.#byId.has(artifact.id)) throw new Error(`an artifact with id ${artifact.id} is already stored`);
    this.#artifacts.push(artifact);
    this.#byId.set(artifact.id, artifact);
    let ofType = this.#byType.get(artifact.type);
    if (ofType === undefined) this.#byType.set(artifact.type, (ofType = []));
    ofType.push(artifact);
  }

  getArtifacts(ids: readonly string[]): (Artifact | undefined)[] {
    return ids.map((id) => this.#byId.get(id));
  }

  list<T>(query: ArtifactQuery & { readonly type: ArtifactTypeOf<T> }): Artifact<T>[];
  list(query?: ArtifactQuery): Artifact[];
  list(query?: ArtifactQuery): Artifact[] {
    const { typeName, since, limit } = checkArtifactQuery(query);
    const source = typeName === undefined ? this.#artifacts : (this.#byType.get(typeName) ?? []);
    const result: Artifact[] = [];
    for (const artifact of source) {
      if (result.length >= limit) break;
      if (query?.correlationId !== undefined && artifact.correlationId !== query.correlationId) continue;
      if (query?.producedBy !== undefined && artifact.producedBy !== query.producedBy) continue;
      if (since !== undefined && artifact.createdAt < since) continue;
      result.push(artifact);
    }
    return result;
  }

  enqueueRun(run: RunRecord): void {
    let queue = this.#queues.get(run.agent);
    if (queue === undefined) this.#queues.set(run.agent, (queue = new Deque()));
    queue.push(run);
  }

  claimRun(agent: string): RunRecord | undefined {
    const queue = this.#queues.get(agent);
    if (queue === undefined) return undefined;
    for (;;) {
      const run = queue.shift();
      if (run === undefined) return undefined;
      const state = this.#workflows.get(run.correlationId);
      if (state === undefined || state === 'active') {
        this.#running.set(run.id, run);
        return run;
      }
      let parked = this.#parked.get(run.correlationId);
      if (parked === undefined) this.#parked.set(run.correlationId, (parked = []));
      parked.push(run);
    }
  }

  finishRun(runId: string, _outcome: RunOutcome): void {
    this.#running.delete(runId);
  }

  cancelQueuedRuns(correlationId?: string): RunRecord[] {
    if (correlationId === undefined) {
      const all: RunRecord[] = [];
      for (const queue of this.#queues.values()) all.push(...queue);
      for (const parked of this.#parked.values()) all.push(...parked);
      this.#queues.clear();
      this.#parked.clear();
      return all;
    }
    const removed: RunRecord[] = [...(this.#parked.get(correlationId) ?? [])];
    this.#parked.delete(correlationId);
    for (const queue of this.#queues.values()) {
      queue.removeIf((run) => {
        if (run.correlationId !== correlationId) return false;
        removed.push(run);
        return true;
      });
    }
    return removed;
  }

  countRuns(query?: RunCountQuery): number {
    return this.listRuns(query).length;
  }

  listRuns(query?: RunCountQuery): RunRecord[] {
    const matches = (run: RunRecord): boolean =>
      (query?.agent === undefined || run.agent === query.agent) &&
      (query?.correlationId === undefined || run.correlationId === query.correlationId);
    const runs: RunRecord[] = [];
    if (query?.state !== 'running') {
      for (const queue of this.#queues.values()) for (const run of queue) if (matches(run)) runs.push(run);
      for (const parked of this.#parked.values()) for (const run of parked) if (matches(run)) runs.push(run);
    }
    if (query?.state !== 'queued') for (const run of this.#running.values()) if (matches(run)) runs.push(run);
    return runs;
  }

  requeueRunning(): RunRecord[] {
    const runs = [...this.#running.values()];
    this.#running.clear();
    for (let i = runs.length - 1; i >= 0; i--) {
      const run = runs[i]!;
      let queue = this.#queues.get(run.agent);
      if (queue === undefined) this.#queues.set(run.agent, (queue = new Deque()));
      queue.unshift(run);
    }
    return runs;
  }

  listWorkflowStates(): { correlationId: string; state: WorkflowState }[] {
    return [...this.#workflows].map(([correlationId, state]) => ({ correlationId, state }));
  }

  setWorkflowState(correlationId: string, state: WorkflowState): void {
    if (state === 'active') this.#workflows.delete(correlationId);
    else this.#workflows.set(correlationId, state);
    if (state !== 'active') return;
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

  getWorkflowState(correlationId: string): WorkflowState {
    return this.#workflows.get(correlationId) ?? 'active';
  }

  getGate(key: string): GateRecord | undefined {
    return this.#gates.get(key);
  }

  putGate(gate: GateRecord): void {
    this.#gates.set(gate.key, gate);
  }

  deleteGate(key: string): void {
    this.#gates.delete(key);
  }

  listGates(query?: { readonly correlationId?: string }): GateRecord[] {
    const gates = [...this.#gates.values()];
    return query?.correlationId === undefined ? gates : gates.filter((gate) => gate.correlationId === query.correlationId);
  }

  addDeadLetter(letter: DeadLetter): void {
    this.#deadLetters.set(letter.id, letter);
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

  takeDeadLetter(id: string): DeadLetter | undefined {
    const letter = this.#deadLetters.get(id);
    this.#deadLetters.delete(id);
    return letter;
  }
}
