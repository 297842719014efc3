/**
 * Recent runs as the server saw them in the board's events (the store keeps only queued and running
 * runs): bounded, the oldest events forgotten first.
 */
import type { ErrorSummary } from '../board/builtins.js';
import type { BoardEvent } from '../board/events.js';
import type { RunRecord } from '../board/store/contract.js';

/**
 * A run as the API shows it.
 *
 * @example
 * ```ts
 * import type { RunView } from 'skein/serve';
 * const show = (run: RunView) => `${run.agent} ${run.state} ${run.durationMs ?? '-'} ms ${run.error ?? ''}`;
 * ```
 */
export interface RunView {
  readonly id: string;
  readonly agent: string;
  readonly correlationId: string;
  readonly state: 'queued' | 'running' | 'finished' | 'failed' | 'cancelled';
  readonly inputIds?: readonly string[] | undefined;
  /** Epoch ms of the events seen. */
  readonly scheduledAt?: number | undefined;
  readonly startedAt?: number | undefined;
  readonly endedAt?: number | undefined;
  readonly durationMs?: number | undefined;
  readonly attempts?: number | undefined;
  readonly retries?: number | undefined;
  /** Why it failed, or why it was cancelled. */
  readonly error?: string | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function newRun(id: string, agent: string, correlationId: string): Mutable<RunView> {
  // One shape for every run (no property added later): tracking stays a few stores per event.
  return { id, agent, correlationId, state: 'queued', inputIds: undefined, scheduledAt: undefined, startedAt: undefined, endedAt: undefined, durationMs: undefined, attempts: undefined, retries: undefined, error: undefined };
}

/** The kinds of run events the history keeps, as stored in its kind column (0: an empty slot). */
const SCHEDULED = 1;
const STARTED = 2;
const RETRYING = 3;
const FINISHED = 4;
const FAILED = 5;
const CANCELLED = 6;
const KIND_CODES: Partial<Record<BoardEvent['kind'], number>> = { scheduled: SCHEDULED, started: STARTED, retrying: RETRYING, finished: FINISHED, failed: FAILED, cancelled: CANCELLED };

/**
 * Runs seen in the events. Tracking costs a few array stores per event: what a run event says goes
 * into a ring of columns (`capacity` events, the oldest overwritten), and a view folds the ring into
 * runs when it is asked for, so that a board nobody asks about its runs pays nothing more. The
 * columns keep the event's fields, never the event object: the board's events die young (a
 * long-lived ring of them would have the garbage collector copy each one into the old generation),
 * and what the columns keep is mostly shared (the agent's name, the workflow's id, the run's id).
 * Progress and usage events say nothing a run view shows and are not kept.
 */
export class RunHistory {
  readonly #capacity: number;
  readonly #kinds: Uint8Array;
  readonly #at: Float64Array;
  /** `durationMs` of a finished or failed run. */
  readonly #durations: Float64Array;
  /** `attempts` of a failed run. */
  readonly #attempts: Float64Array;
  readonly #runIds: (string | undefined)[];
  readonly #agents: (string | undefined)[];
  readonly #correlationIds: (string | undefined)[];
  /** `inputIds` of a scheduled run, the `error` of a failed one, the `reason` of a cancelled one. */
  readonly #details: unknown[];
  #count = 0;

  /** `capacity`: run events kept (a run has three or four). */
  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#kinds = new Uint8Array(capacity);
    this.#at = new Float64Array(capacity);
    this.#durations = new Float64Array(capacity);
    this.#attempts = new Float64Array(capacity);
    this.#runIds = new Array<string | undefined>(capacity).fill(undefined);
    this.#agents = new Array<string | undefined>(capacity).fill(undefined);
    this.#correlationIds = new Array<string | undefined>(capacity).fill(undefined);
    this.#details = new Array<unknown>(capacity).fill(undefined);
  }

  track(event: BoardEvent): void {
    const kind = KIND_CODES[event.kind];
    if (kind === undefined || !('runId' in event)) return;
    const slot = this.#count++ % this.#capacity;
    this.#kinds[slot] = kind;
    this.#at[slot] = event.at;
    this.#runIds[slot] = event.runId;
    this.#agents[slot] = event.agent;
    this.#correlationIds[slot] = event.correlationId;
    let detail: unknown;
    switch (event.kind) {
      case 'scheduled':
        detail = event.inputIds;
        break;
      case 'finished':
        this.#durations[slot] = event.durationMs;
        break;
      case 'failed':
        this.#durations[slot] = event.durationMs;
        this.#attempts[slot] = event.attempts;
        detail = event.error;
        break;
      case 'cancelled':
        detail = event.reason;
        break;
    }
    this.#details[slot] = detail;
  }

  /** The runs of the events kept, in the order of their first event. */
  #fold(): Map<string, Mutable<RunView>> {
    const runs = new Map<string, Mutable<RunView>>();
    const size = Math.min(this.#count, this.#capacity);
    for (let i = this.#count - size; i < this.#count; i++) {
      const slot = i % this.#capacity;
      const runId = this.#runIds[slot]!;
      let run = runs.get(runId);
      if (run === undefined) {
        run = newRun(runId, this.#agents[slot]!, this.#correlationIds[slot]!);
        runs.set(runId, run);
      }
      const at = this.#at[slot];
      switch (this.#kinds[slot]) {
        case SCHEDULED:
          run.inputIds = this.#details[slot] as readonly string[];
          run.scheduledAt = at;
          break;
        case STARTED:
          run.state = 'running';
          run.startedAt = at;
          break;
        case RETRYING:
          run.retries = (run.retries ?? 0) + 1;
          break;
        case FINISHED:
          run.state = 'finished';
          run.endedAt = at;
          run.durationMs = this.#durations[slot];
          break;
        case FAILED: {
          const error = this.#details[slot] as ErrorSummary;
          run.state = 'failed';
          run.endedAt = at;
          run.durationMs = this.#durations[slot];
          run.attempts = this.#attempts[slot];
          run.error = `${error.name}: ${error.message}`;
          break;
        }
        case CANCELLED:
          run.state = 'cancelled';
          run.endedAt = at;
          run.error = this.#details[slot] as string;
          break;
      }
    }
    return runs;
  }

  /** Runs of a workflow (or all), newest last, merged with what the store holds (other workers' queued and running runs). */
  list(filter: { readonly correlationId?: string | undefined; readonly agent?: string | undefined }, stored: readonly RunRecord[], limit: number): RunView[] {
    const out = new Map<string, RunView>();
    for (const run of this.#fold().values()) {
      if (filter.correlationId !== undefined && run.correlationId !== filter.correlationId) continue;
      if (filter.agent !== undefined && run.agent !== filter.agent) continue;
      out.set(run.id, run);
    }
    for (const record of stored) {
      const known = out.get(record.id);
      if (known !== undefined && (known.state === 'finished' || known.state === 'failed' || known.state === 'cancelled')) continue;
      out.set(record.id, { ...known, id: record.id, agent: record.agent, correlationId: record.correlationId, state: record.state, inputIds: record.inputIds, attempts: record.attempt });
    }
    const all = [...out.values()];
    return all.slice(Math.max(0, all.length - limit));
  }
}
