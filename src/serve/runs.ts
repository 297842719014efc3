/**
 * Recent runs as the server saw them in the board's events (the store keeps only queued and running
 * runs): bounded, the oldest events forgotten first.
 */
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

type RunEvent = Extract<BoardEvent, { runId: string }>;

/**
 * Runs seen in the events. Tracking costs one array store per event: the run events go into a ring
 * (`capacity` of them, the oldest overwritten), and a view folds the ring into runs when it is asked
 * for, so that a board nobody asks about its runs pays nothing more.
 */
export class RunHistory {
  readonly #ring: (RunEvent | undefined)[];
  #count = 0;

  /** `capacity`: run events kept (a run has three or four). */
  constructor(capacity: number) {
    this.#ring = new Array<RunEvent | undefined>(capacity).fill(undefined);
  }

  track(event: BoardEvent): void {
    if ('runId' in event) this.#ring[this.#count++ % this.#ring.length] = event;
  }

  /** The runs of the events kept, in the order of their first event. */
  #fold(): Map<string, Mutable<RunView>> {
    const runs = new Map<string, Mutable<RunView>>();
    const size = Math.min(this.#count, this.#ring.length);
    for (let i = this.#count - size; i < this.#count; i++) {
      const event = this.#ring[i % this.#ring.length]!;
      let run = runs.get(event.runId);
      if (run === undefined) {
        run = newRun(event.runId, event.agent, event.correlationId);
        runs.set(event.runId, run);
      }
      switch (event.kind) {
        case 'scheduled':
          run.inputIds = event.inputIds;
          run.scheduledAt = event.at;
          break;
        case 'started':
          run.state = 'running';
          run.startedAt = event.at;
          break;
        case 'retrying':
          run.retries = (run.retries ?? 0) + 1;
          break;
        case 'finished':
          run.state = 'finished';
          run.endedAt = event.at;
          run.durationMs = event.durationMs;
          break;
        case 'failed':
          run.state = 'failed';
          run.endedAt = event.at;
          run.durationMs = event.durationMs;
          run.attempts = event.attempts;
          run.error = `${event.error.name}: ${event.error.message}`;
          break;
        case 'cancelled':
          run.state = 'cancelled';
          run.endedAt = event.at;
          run.error = event.reason;
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
