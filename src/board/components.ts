/**
 * Board-level components: policies that apply to every agent. They see each artifact before it is
 * stored (to transform or block it), each run before it is queued (to let it through, skip it or
 * defer it), each idle moment and each final failure. Several run in ascending `priority`.
 */
import type { Artifact } from './artifact.js';

type Awaitable<T> = T | Promise<T>;

/**
 * What `onPublish` may answer: nothing (keep), a replacement artifact, or a block with a reason.
 *
 * @example
 * ```ts
 * import type { BoardComponent } from 'skein/board';
 * const redact: BoardComponent = { onPublish: (a) => (a.tags.includes('pii') ? { block: 'pii' } : { ...a, tags: [...a.tags, 'checked'] }) };
 * ```
 */
export type PublishDecision = void | undefined | Artifact | { readonly block: string };

/**
 * What `beforeSchedule` may answer. `{ deferMs }` asks again after that delay.
 *
 * @example
 * ```ts
 * import type { BoardComponent } from 'skein/board';
 * const offHours: BoardComponent = { beforeSchedule: ({ agent }) => (agent === 'mailer' && new Date().getUTCHours() < 6 ? { deferMs: 60_000 } : 'continue') };
 * ```
 */
export type ScheduleDecision = void | undefined | 'continue' | 'skip' | { readonly deferMs: number };

/**
 * A run about to be queued.
 *
 * @example
 * ```ts
 * import type { BoardComponent } from 'skein/board';
 * const onlyBig: BoardComponent = { beforeSchedule: ({ inputs }) => (inputs.length < 2 ? 'skip' : 'continue') };
 * ```
 */
export interface ScheduleCandidate {
  readonly agent: string;
  readonly correlationId: string;
  readonly inputs: readonly Artifact[];
}

/**
 * A run that failed for good.
 *
 * @example
 * ```ts
 * import type { BoardComponent } from 'skein/board';
 * const alert: BoardComponent = { onError: (error, { agent, attempts }) => { console.error(`${agent} failed after ${attempts}`, error); } };
 * ```
 */
export interface FailureInfo {
  readonly agent: string;
  readonly runId: string;
  readonly correlationId: string;
  readonly inputs: readonly Artifact[];
  readonly attempts: number;
}

/**
 * A board component.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Note = artifactType('Note', z.object({ text: z.string() }));
 * await using board = new Board();
 * board.use({
 *   name: 'no-secrets',
 *   onPublish: (artifact) =>
 *     JSON.stringify(artifact.payload).includes('password') ? { block: 'looks like a secret' } : undefined,
 * });
 * await board.publish(Note, { text: 'password=hunter2' }).catch((error: Error) => console.log(error.name)); // PublishBlockedError
 * ```
 */
export interface BoardComponent {
  readonly name?: string;
  /** Lower runs first (default 0). */
  readonly priority?: number;
  /** Before an artifact is stored. A replacement must keep the type and id; its payload is validated again. */
  onPublish?(artifact: Artifact): Awaitable<PublishDecision>;
  /** Before a run is queued. */
  beforeSchedule?(candidate: ScheduleCandidate): Awaitable<ScheduleDecision>;
  /** When the board becomes idle. Publishing from here continues the work. */
  onIdle?(): Awaitable<void>;
  /** When a run failed for good. */
  onError?(error: unknown, failure: FailureInfo): Awaitable<void>;
}
