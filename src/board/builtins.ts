/**
 * The artifact types the board itself publishes, so that failures, expired joins and stopped loops
 * are facts on the board that agents can consume and users can list, never silent drops.
 */
import { artifactType } from './artifact.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** A schema for payloads the board builds itself: it trusts its own values. */
function trusted<T>(): StandardSchemaV1<T, T> {
  return { '~standard': { version: 1, vendor: 'skein', validate: (value) => ({ value: value as T }) } };
}

/** What a failure looked like, in a form every store can keep. */
export interface ErrorSummary {
  readonly name: string;
  readonly message: string;
}

/** Payload of {@link AgentFailed}. */
export interface AgentFailedPayload {
  readonly agent: string;
  readonly runId: string;
  readonly inputIds: readonly string[];
  readonly attempts: number;
  readonly error: ErrorSummary;
  /** The dead letter recorded for this failure; `board.replayDeadLetter(id)` runs it again. */
  readonly deadLetterId: string;
}

/** Payload of {@link JoinExpired}. */
export interface JoinExpiredPayload {
  readonly agent: string;
  readonly key: string;
  /** The join's time window; absent when it has only a count window. */
  readonly withinMs?: number;
  /** The join's count window (`withinLast`); absent when it has none. An artifact pushed out by a newer one of its type is reported as soon as it leaves. */
  readonly withinLast?: number;
  /** The artifacts that had arrived, by type. */
  readonly received: readonly { readonly id: string; readonly type: string }[];
  /** The types that never arrived. */
  readonly missing: readonly string[];
}

/** Payload of {@link LoopDetected}. */
export interface LoopDetectedPayload {
  readonly agent: string;
  readonly limit: number;
  readonly reason: string;
}

/**
 * Payload of {@link TimerTick}, and what `ctx.timer` answers in a run a timer started.
 *
 * @example
 * ```ts
 * import type { TimerTickPayload } from 'skein/board';
 * const lateMs = (tick: TimerTickPayload) => Date.now() - Date.parse(tick.scheduledAt);
 * ```
 */
export interface TimerTickPayload {
  /** The timer's name: its agent's. */
  readonly timer: string;
  /** 1 for the first tick the timer fired, 2 for the second, ... (across restarts: the count is in the store). */
  readonly tick: number;
  /** The slot this tick is for (ISO 8601, UTC); the tick's `createdAt` says when it fired. */
  readonly scheduledAt: string;
}

/**
 * Published by the board when a scheduled agent's timer fires: the input of that agent's run, seen by
 * no other agent. Listable like any artifact.
 *
 * @example
 * ```ts
 * import { Board, TimerTick } from 'skein/board';
 * await using board = new Board();
 * const ticks = await board.store.list({ type: TimerTick });
 * ```
 */
export const TimerTick = artifactType('TimerTick', trusted<TimerTickPayload>());

/**
 * Published (with the run's correlation id) when an agent's run failed for good.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import { AgentFailed } from 'skein/board';
 * await using board = new Board();
 * board.agent('pager').consumes(AgentFailed).handle(([failure]) => { console.error(failure.payload.agent, failure.payload.error.message); });
 * ```
 */
export const AgentFailed = artifactType('AgentFailed', trusted<AgentFailedPayload>());
/**
 * Published when a join's window passed before every type arrived: what had arrived is in it.
 *
 * @example
 * ```ts
 * import { Board, JoinExpired } from 'skein/board';
 * await using board = new Board();
 * board.agent('watchdog').consumes(JoinExpired).handle(([e]) => { console.warn(`${e.payload.key} never got ${e.payload.missing.join(', ')}`); });
 * ```
 */
export const JoinExpired = artifactType('JoinExpired', trusted<JoinExpiredPayload>());
/**
 * Published once when an agent reached its per-workflow run limit: further runs were not scheduled.
 *
 * @example
 * ```ts
 * import { Board, LoopDetected } from 'skein/board';
 * await using board = new Board();
 * const loops = await board.store.list({ type: LoopDetected });
 * ```
 */
export const LoopDetected = artifactType('LoopDetected', trusted<LoopDetectedPayload>());

/** The producer name of artifacts published by `board.publish` and by the board itself. */
export const EXTERNAL = 'external';
export const BOARD = 'board';

export function summarizeError(error: unknown): ErrorSummary {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
