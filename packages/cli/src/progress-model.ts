/**
 * The progress model: board events in, per-agent counters out. Everything the progress view and the
 * summary show is derived here from the event stream alone, so it is the same whether the events
 * come live from a board or are replayed from a `--trace` file, and it is tested without a board.
 *
 * Invariants: every run the model has seen scheduled is in exactly one of queued, running, done,
 * failed or cancelled; `retries` counts attempts after the first; run times are from `started` to
 * `finished`/`failed` (queue time excluded).
 */
import type { AgentStats, BoardEvent } from 'skein/board';
import { FailureTally, type ErrorCount } from './failure-tally.js';
import { RunTimes } from './run-times.js';

/** How far back the runs-per-second rate looks. */
const RATE_WINDOW_MS = 2_000;

/** One agent's counters at a moment: the board's own counters, as the event stream tells them. */
export interface AgentProgress extends Omit<AgentStats, 'maxConcurrency' | 'skipped' | 'usage'> {
  readonly name: string;
  /** Runs that ended (done or failed) per second over the last two seconds. */
  readonly runsPerSecond: number;
}

/** Run-time figures of one agent, for the summary. */
export interface AgentTimings {
  readonly name: string;
  /** Runs that ended, done or failed: each counted once, however many attempts it took. */
  readonly runs: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly retries: number;
  /**
   * Runs never reported as ended: still queued or running when the summary was taken. After a
   * shutdown these are runs that ignored their signal past the board's grace period.
   */
  readonly unfinished: number;
  /**
   * Why runs failed for good: the first few distinct messages with their counts, in order of first
   * occurrence (`failed` minus their counts' sum had other messages).
   */
  readonly errors: readonly ErrorCount[];
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
  /** What its runs reported using (`usage` events: a model's tokens), summed by name; absent when nothing was reported. */
  readonly usage?: Readonly<Record<string, number>>;
}

/** The whole board at a moment. */
export interface ProgressSnapshot {
  readonly elapsedMs: number;
  readonly published: number;
  /** Published artifacts by type name, in order of first appearance. */
  readonly publishedByType: Readonly<Record<string, number>>;
  readonly agents: readonly AgentProgress[];
  /** Events the stream dropped because the reader fell behind (counters may then be short). */
  readonly lostEvents: number;
  /** True once an `idle` event arrived and nothing was scheduled since. */
  readonly idle: boolean;
  /** The last few final failures, newest last: `agent: message`. */
  readonly recentFailures: readonly string[];
}

interface AgentState {
  queued: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  retries: number;
  /** Summed `usage` events; made on the first. */
  usage: Record<string, number> | undefined;
  readonly failures: FailureTally;
  readonly runTimes: RunTimes;
  /** End times of recent runs, oldest first; pruned past the rate window. */
  readonly recentEnds: number[];
  recentHead: number;
}

type RunPhase = 'queued' | 'running';

const MAX_RECENT_FAILURES = 3;

/**
 * Folds board events into counters. `apply` every event in order; read `snapshot(now)` and
 * `timings()` whenever. The model keeps per-run state only for runs in flight.
 *
 * @example
 * ```ts
 * const model = new ProgressModel(0);
 * model.apply({ kind: 'scheduled', at: 1, runId: 'r1', agent: 'split', correlationId: 'c', inputIds: [] });
 * model.apply({ kind: 'started', at: 2, runId: 'r1', agent: 'split', correlationId: 'c' });
 * model.snapshot(3).agents[0]?.running; // 1
 * ```
 */
export class ProgressModel {
  readonly #startedAt: number;
  readonly #agents = new Map<string, AgentState>();
  readonly #runs = new Map<string, RunPhase>();
  readonly #publishedByType = new Map<string, number>();
  readonly #recentFailures: string[] = [];
  #published = 0;
  #lost = 0;
  #idle = false;

  readonly #countScheduled: boolean;

  /**
   * @param startedAt epoch ms the run started, the origin of `elapsedMs`.
   * @param options `countScheduled: false` for a board that shares its store with workers: a run it
   *   schedules may run on any of them, so only the runs it starts are counted (from `started` on).
   */
  constructor(startedAt: number, options?: { readonly countScheduled?: boolean }) {
    this.#startedAt = startedAt;
    this.#countScheduled = options?.countScheduled ?? true;
  }

  /** Declares an agent before any event names it, so that idle agents show in the view. */
  addAgent(name: string): void {
    this.#agent(name);
  }

  /**
   * Counts a run a previous process left in a durable store as queued (it is, or soon will be: a
   * resumed board queues runs left running again), so that its `started` event moves it on.
   */
  addQueued(agent: string, runId: string): void {
    if (this.#runs.has(runId)) return;
    this.#agent(agent).queued++;
    this.#runs.set(runId, 'queued');
  }

  apply(event: BoardEvent): void {
    switch (event.kind) {
      case 'published':
        this.#published++;
        this.#publishedByType.set(event.type, (this.#publishedByType.get(event.type) ?? 0) + 1);
        return;
      case 'scheduled':
        this.#idle = false;
        if (!this.#countScheduled) return;
        this.#agent(event.agent).queued++;
        this.#runs.set(event.runId, 'queued');
        return;
      case 'started': {
        const agent = this.#agent(event.agent);
        if (this.#runs.get(event.runId) === 'queued') agent.queued--;
        agent.running++;
        this.#runs.set(event.runId, 'running');
        return;
      }
      case 'retrying':
        this.#agent(event.agent).retries++;
        return;
      case 'finished': {
        const agent = this.#end(event.agent, event.runId);
        agent.done++;
        agent.runTimes.record(event.durationMs);
        agent.recentEnds.push(event.at);
        return;
      }
      case 'failed': {
        const agent = this.#end(event.agent, event.runId);
        agent.failed++;
        agent.failures.record(event.error);
        agent.runTimes.record(event.durationMs);
        agent.recentEnds.push(event.at);
        this.#recentFailures.push(`${event.agent}: ${event.error.message}`);
        if (this.#recentFailures.length > MAX_RECENT_FAILURES) this.#recentFailures.shift();
        return;
      }
      case 'cancelled':
        this.#end(event.agent, event.runId).cancelled++;
        return;
      case 'idle':
        this.#idle = true;
        return;
      case 'lagged':
        this.#lost += event.dropped;
        return;
      case 'skipped':
      case 'blocked':
      case 'progress':
        return;
      case 'usage': {
        const agent = this.#agent(event.agent);
        const usage = (agent.usage ??= {});
        for (const [key, value] of Object.entries(event.usage)) usage[key] = (usage[key] ?? 0) + value;
        return;
      }
    }
  }

  snapshot(now: number): ProgressSnapshot {
    const agents: AgentProgress[] = [];
    for (const [name, state] of this.#agents) {
      agents.push({
        name,
        queued: state.queued,
        running: state.running,
        done: state.done,
        failed: state.failed,
        cancelled: state.cancelled,
        retries: state.retries,
        runsPerSecond: rate(state, now),
      });
    }
    return {
      elapsedMs: Math.max(0, now - this.#startedAt),
      published: this.#published,
      publishedByType: Object.fromEntries(this.#publishedByType),
      agents,
      lostEvents: this.#lost,
      idle: this.#idle,
      recentFailures: [...this.#recentFailures],
    };
  }

  timings(): AgentTimings[] {
    const result: AgentTimings[] = [];
    for (const [name, state] of this.#agents) {
      result.push({
        name,
        runs: state.done + state.failed,
        failed: state.failed,
        cancelled: state.cancelled,
        retries: state.retries,
        unfinished: state.queued + state.running,
        errors: state.failures.errors(),
        p50Ms: state.runTimes.percentile(50),
        p99Ms: state.runTimes.percentile(99),
        maxMs: state.runTimes.maxMs,
        ...(state.usage === undefined ? {} : { usage: { ...state.usage } }),
      });
    }
    return result;
  }

  #agent(name: string): AgentState {
    let state = this.#agents.get(name);
    if (state === undefined) {
      state = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0, retries: 0, usage: undefined, failures: new FailureTally(), runTimes: new RunTimes(), recentEnds: [], recentHead: 0 };
      this.#agents.set(name, state);
    }
    return state;
  }

  /** Takes a run out of queued or running, wherever it was. */
  #end(name: string, runId: string): AgentState {
    const agent = this.#agent(name);
    const phase = this.#runs.get(runId);
    if (phase === 'queued') agent.queued--;
    else if (phase === 'running') agent.running--;
    this.#runs.delete(runId);
    return agent;
  }
}

/** Runs per second ended within the window before `now`; prunes what fell out of it. */
function rate(state: AgentState, now: number): number {
  const from = now - RATE_WINDOW_MS;
  const ends = state.recentEnds;
  while (state.recentHead < ends.length && ends[state.recentHead]! < from) state.recentHead++;
  // Compact now and then so that the array does not keep every end time of a long run.
  if (state.recentHead > 1024 && state.recentHead * 2 > ends.length) {
    ends.splice(0, state.recentHead);
    state.recentHead = 0;
  }
  let count = 0;
  for (let i = state.recentHead; i < ends.length; i++) if (ends[i]! <= now) count++;
  return count / (RATE_WINDOW_MS / 1000);
}
