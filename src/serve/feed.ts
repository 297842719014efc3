/**
 * Following the store: on a board that shares its store with other boards (other `skein worker`
 * processes on PostgreSQL, a second process on SQLite), `board.events()` reports only what this
 * process did. The feed reads what the others did from the store through the contract's existing
 * queries and turns it into the same event shapes:
 *
 * - `published`: artifacts listed since a cursor (`store.list({ since })`, re-read with a look-back
 *   window, since a transaction may commit after a later one), each reported once (ids seen are kept
 *   in a bounded set, this board's own among them);
 * - `started`, `finished`: runs of other boards as the running set shows them at each poll (a run
 *   shorter than the poll interval shows through its outputs only; `outputs` of a `finished` event
 *   counts the artifacts the feed saw with the run's agent as producer and its inputs as `causedBy`);
 * - `failed`: dead letters that appear (exactly once each).
 *
 * It polls every `pollMs` and sooner when the store's notices (`onNotice`, PostgreSQL's LISTEN/NOTIFY)
 * say something was queued. Nothing here writes to the store.
 */
import type { Artifact } from '../board/artifact.js';
import type { BoardEvent } from '../board/events.js';
import type { BoardStore, DeadLetter, RunRecord } from '../board/store/contract.js';
import { NoticePoller } from '../board/store/notice-poller.js';

/** A bounded set of ids: the oldest forgotten first. */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #order: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#order = new Array<string | undefined>(capacity).fill(undefined);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    if (this.#ids.has(id)) return;
    const old = this.#order[this.#next];
    if (old !== undefined) this.#ids.delete(old);
    this.#order[this.#next] = id;
    this.#next = (this.#next + 1) % this.#order.length;
    this.#ids.add(id);
  }
}

/** Settings of the feed (`serve({ follow })`). */
export interface FollowSettings {
  readonly pollMs: number;
  readonly lookbackMs: number;
}

interface Watched {
  readonly run: RunRecord;
  readonly seenAt: number;
}

const PAGE = 500;
const MAX_PAGES = 20;
const lineageKey = (agent: string, inputIds: readonly string[]): string => `${agent}\u0000${inputIds.join('\u0000')}`;

/** Reads other boards' work from the store and reports it as board events. */
export class StoreFeed {
  readonly #store: BoardStore;
  readonly #settings: FollowSettings;
  readonly #emit: (event: BoardEvent, artifact?: Artifact) => void;
  readonly #onError: (error: unknown) => void;
  /** Artifact ids already reported (this board's and the feed's). */
  readonly artifacts = new RecentIds(200_000);
  /** Ids of runs this board runs (their events come from the board itself). */
  readonly runs = new RecentIds(200_000);
  readonly #letters = new Set<string>();
  /** Runs whose `failed` the feed reported. */
  readonly #failed = new RecentIds(10_000);
  readonly #watched = new Map<string, Watched>();
  /** Outputs seen per (agent, inputs), for the `outputs` count of a `finished` event. */
  readonly #outputs = new Map<string, number>();
  readonly #startIso: string;
  #cursor: string | undefined;
  #first = true;
  #stopped = false;
  readonly #poller: NoticePoller;

  constructor(store: BoardStore, settings: FollowSettings, emit: (event: BoardEvent, artifact?: Artifact) => void, onError: (error: unknown) => void) {
    this.#store = store;
    this.#settings = settings;
    this.#emit = emit;
    this.#onError = onError;
    this.#startIso = new Date().toISOString();
    this.#poller = new NoticePoller(store, {
      poll: () => this.#pollOnce(),
      intervalMs: settings.pollMs,
      onNotice: () => this.#poller.soon(),
      onError: (_operation, error) => this.#onError(error),
    });
  }

  /**
   * Notes an event of this board, so that the feed does not report it again; false when the feed
   * reported it first (the store answers before the board emits), and it must not go out twice.
   */
  local(event: BoardEvent): boolean {
    if (event.kind === 'published') {
      if (this.artifacts.has(event.artifactId)) return false;
      this.artifacts.add(event.artifactId);
      return true;
    }
    // A run this board scheduled may be run by another board: only the runs it runs are its own.
    if (!('runId' in event) || event.kind === 'scheduled') return true;
    this.runs.add(event.runId);
    // A run of this board the feed saw running first: the board reports its end itself.
    if (this.#watched.delete(event.runId) && event.kind === 'started') return false;
    return !(event.kind === 'failed' && this.#failed.has(event.runId));
  }

  start(): void {
    this.#poller.start();
  }

  /** Stops polling; resolves once a poll in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#poller.stop();
  }

  /** Polls now (tests). */
  poll(): Promise<void> {
    return this.#poller.poll();
  }

  async #pollOnce(): Promise<void> {
    // The runs first, the artifacts after: a run gone from the running set ended in a unit that also
    // stored its outputs, so the artifacts read next hold them (its `finished` counts them, and comes
    // after them, as on the board that ran it).
    const now = Date.now();
    const running = await this.#store.listRuns({ state: 'running' });
    const letters = await this.#store.listDeadLetters();
    if (this.#stopped) return;
    await this.#readArtifacts();
    if (this.#stopped) return;
    this.#readRuns(now, running, letters);
    this.#first = false;
  }

  async #readArtifacts(): Promise<void> {
    const from = this.#cursor ?? this.#startIso;
    let since = new Date(Date.parse(from) - this.#settings.lookbackMs).toISOString();
    let skip = 0;
    for (let page = 0; page < MAX_PAGES && !this.#stopped; page++) {
      const fetched = await this.#store.list({ since, limit: PAGE + skip });
      for (let i = skip; i < fetched.length; i++) {
        const artifact = fetched[i]!;
        if (this.#cursor === undefined || artifact.createdAt > this.#cursor) this.#cursor = artifact.createdAt;
        if (this.artifacts.has(artifact.id)) continue;
        this.artifacts.add(artifact.id);
        // What was there before the server started is history, not news.
        if (artifact.createdAt < this.#startIso) continue;
        if (artifact.producedBy !== 'external' && artifact.producedBy !== 'board') {
          const key = lineageKey(artifact.producedBy, artifact.causedBy);
          this.#outputs.set(key, (this.#outputs.get(key) ?? 0) + 1);
          if (this.#outputs.size > 100_000) this.#outputs.delete(this.#outputs.keys().next().value!);
        }
        this.#emit(
          { kind: 'published', at: Date.parse(artifact.createdAt), artifactId: artifact.id, type: artifact.type, producedBy: artifact.producedBy, correlationId: artifact.correlationId },
          artifact,
        );
      }
      if (fetched.length < PAGE + skip) return;
      const last = fetched[fetched.length - 1]!.createdAt;
      skip = 0;
      for (const artifact of fetched) if (artifact.createdAt === last) skip++;
      since = last;
    }
  }

  #readRuns(now: number, running: readonly RunRecord[], letters: readonly DeadLetter[]): void {
    const current = new Set<string>();
    for (const run of running) {
      current.add(run.id);
      if (this.runs.has(run.id)) continue;
      const watched = this.#watched.get(run.id);
      if (watched !== undefined && watched.run.attempt === run.attempt) continue;
      this.#watched.set(run.id, { run, seenAt: now });
      this.#emit({ kind: 'started', at: now, runId: run.id, agent: run.agent, correlationId: run.correlationId });
    }
    for (const letter of letters) {
      if (this.#letters.has(letter.id)) continue;
      this.#letters.add(letter.id);
      const runId = letter.run.id;
      const watched = this.#watched.get(runId);
      this.#watched.delete(runId);
      if (this.#first || this.runs.has(runId)) continue;
      this.#failed.add(runId);
      this.#emit({
        kind: 'failed',
        at: Date.parse(letter.failedAt),
        runId,
        agent: letter.run.agent,
        correlationId: letter.run.correlationId,
        durationMs: watched === undefined ? 0 : Math.max(0, Date.parse(letter.failedAt) - watched.seenAt),
        attempts: letter.attempts,
        error: letter.error,
      });
    }
    // Dead letters replayed (removed from the store) are forgotten, so that the set stays the store's size.
    if (this.#letters.size > letters.length) {
      const present = new Set(letters.map((l) => l.id));
      for (const id of this.#letters) if (!present.has(id)) this.#letters.delete(id);
    }
    for (const [id, { run, seenAt }] of this.#watched) {
      if (current.has(id)) continue;
      this.#watched.delete(id);
      const key = lineageKey(run.agent, run.inputIds);
      const outputs = this.#outputs.get(key) ?? 0;
      this.#outputs.delete(key);
      this.#emit({ kind: 'finished', at: now, runId: id, agent: run.agent, correlationId: run.correlationId, durationMs: now - seenAt, outputs });
    }
  }
}
