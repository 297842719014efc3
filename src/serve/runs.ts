/**
 * Recent runs as the server saw them in the board's events (the store keeps only queued and running
 * runs): bounded, the oldest forgotten first.
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

export class RunHistory {
  readonly #runs = new Map<string, Mutable<RunView>>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  track(event: BoardEvent): void {
    if (!('runId' in event)) return;
    let run = this.#runs.get(event.runId);
    if (run === undefined) {
      while (this.#runs.size >= this.#capacity) this.#runs.delete(this.#runs.keys().next().value!);
      run = { id: event.runId, agent: event.agent, correlationId: event.correlationId, state: 'queued' };
      this.#runs.set(event.runId, run);
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
        Object.assign(run, { state: 'finished', endedAt: event.at, durationMs: event.durationMs });
        break;
      case 'failed':
        Object.assign(run, { state: 'failed', endedAt: event.at, durationMs: event.durationMs, attempts: event.attempts, error: `${event.error.name}: ${event.error.message}` });
        break;
      case 'cancelled':
        Object.assign(run, { state: 'cancelled', endedAt: event.at, error: event.reason });
        break;
    }
  }

  /** Runs of a workflow (or all), newest last, merged with what the store holds (other workers' queued and running runs). */
  list(filter: { readonly correlationId?: string | undefined; readonly agent?: string | undefined }, stored: readonly RunRecord[], limit: number): RunView[] {
    const out = new Map<string, RunView>();
    for (const run of this.#runs.values()) {
      if (filter.correlationId !== undefined && run.correlationId !== filter.correlationId) continue;
      if (filter.agent !== undefined && run.agent !== filter.agent) continue;
      out.set(run.id, { ...run });
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
